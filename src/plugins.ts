/**
 * Every plugin kiln knows, by the name templates use. `satisfies` makes a duplicate or
 * misspelt entry a compile error.
 */
import { amazonEbs } from './builders/amazon/builder.js';
import type { Registry } from './template/types.js';

export const registry = {
  builders: { 'amazon-ebs': amazonEbs },
  provisioners: {},
  postProcessors: {},
} satisfies Registry;
