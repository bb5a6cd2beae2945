/**
 * Every plugin kiln knows, by the name templates use. `satisfies` makes a duplicate or
 * misspelt entry a compile error.
 */
import type { Registry } from './template/types.js';

export const registry = {
  builders: {},
  provisioners: {},
  postProcessors: {},
} satisfies Registry;
