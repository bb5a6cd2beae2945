/**
 * ssh2, loaded on first use rather than imported: its load (and the signing self-test it
 * runs) is ~30 ms that every command reaching the builder registry would pay, `kiln
 * validate` and a build with nothing to do included, though only SSH work needs it.
 */
import { createRequire } from 'node:module';
import type Ssh2 from 'ssh2';

let loaded: typeof Ssh2 | undefined;

/** The ssh2 module (loaded by the first call). */
export function ssh2(): typeof Ssh2 {
  loaded ??= createRequire(import.meta.url)('ssh2') as typeof Ssh2;
  return loaded;
}
