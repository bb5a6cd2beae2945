#!/usr/bin/env node
/**
 * Writes schemas/*.schema.json from the compiled zod schemas (`npm run schemas` builds first).
 * `src/cli/schema-files.test.ts` fails when the committed files are stale.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { schemaFiles } = await import(join(root, 'dist/cli/schema-files.js'));
for (const [path, text] of Object.entries(schemaFiles())) {
  writeFileSync(join(root, path), text);
  console.log(`wrote ${path}`);
}
