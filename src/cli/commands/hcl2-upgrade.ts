import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Command } from 'commander';
import { UserError } from '../../lib/errors.js';
import { registry } from '../../plugins.js';
import { upgradeTemplate } from '../../template/hcl/upgrade.js';
import { readRawTemplate } from '../../template/index.js';
import { validateRawTemplate } from '../../template/raw-template.js';

/**
 * `kiln hcl2_upgrade [-output-file=F] TEMPLATE`, as `packer hcl2_upgrade`: writes the JSON
 * template as HCL2 to F (default TEMPLATE.pkr.hcl). Like Packer, a template that fails its
 * checks beyond structure is still converted, with the problems printed; a builder kiln lacks
 * is an error, after the file is written (as today's Packer does).
 */
export function registerHcl2Upgrade(program: Command): void {
  program
    .command('hcl2_upgrade')
    .description('transform a JSON template into an HCL2 configuration')
    .argument('<template>', 'Packer JSON template')
    .option(
      '--output-file <path>',
      'output file name (default: TEMPLATE.pkr.hcl); Packer reads only files ending in .pkr.hcl',
    )
    .action((template: string, opts: { outputFile?: string }) => {
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
    });
}
