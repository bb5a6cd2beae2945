/** The body of `kiln hcl2_upgrade` (declared in `commands/hcl2-upgrade.ts`). */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { UserError } from '../../lib/errors.js';
import { registry } from '../../plugins.js';
import { upgradeTemplate } from '../../template/hcl/upgrade.js';
import { readRawTemplate } from '../../template/index.js';
import { validateRawTemplate } from '../../template/raw-template.js';

/** Writes the JSON template as HCL2 (see `commands/hcl2-upgrade.ts`). */
export const hcl2Upgrade = (template: string, opts: { outputFile?: string }): void => {
  const out = opts.outputFile || `${template}.pkr.hcl`;
  const tpl = readRawTemplate(template);
  try {
    validateRawTemplate(tpl);
  } catch (err) {
    if (!(err instanceof UserError)) throw err;
    const details = err.details.length > 0 ? `\n${err.details.join('\n')}` : '';
    process.stderr.write(`Ignoring following initialization error: ${err.message}${details}\n`);
  }
  const { text, warnings } = upgradeTemplate(tpl);
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, text);
  for (const w of warnings) process.stderr.write(`Warning: ${w}\n`);
  process.stdout.write(`Successfully created ${out}\n`);
  const unknown = tpl.builders.filter((b) => !(b.type in registry.builders)).map((b) => b.type);
  if (unknown.length > 0) {
    throw new UserError(
      'UnknownBuilderType',
      `unknown builder type(s): ${[...new Set(unknown)].join(', ')}`,
      { hint: `kiln has these builders: ${Object.keys(registry.builders).join(', ')}.` },
    );
  }
};
