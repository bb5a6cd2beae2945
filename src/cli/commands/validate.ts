import type { Command } from 'commander';
import { Catalog } from '../../catalog/index.js';
import { defaultKilnHome } from '../../lib/paths.js';
import { registry } from '../../plugins.js';
import { loadTemplate } from '../../template/index.js';
import { withContext } from '../context.js';
import { addOutputFlag } from './output-flags.js';
import {
  addTemplateFlags,
  parseVarFlags,
  splitNames,
  type TemplateFlags,
} from './template-flags.js';

/** `kiln validate [-syntax-only] [-var k=v]… [-var-file f]… [-only a,b] [-except c] TEMPLATE`, as `packer validate`. */
export function registerValidate(program: Command): void {
  const cmd = program
    .command('validate')
    .description('check that a template is valid (every error at once, with file:line:column)')
    .argument('<template>', 'Packer JSON template, .pkr.hcl file or folder')
    .option('--syntax-only', 'only check syntax; do not verify the configuration of the template');
  addOutputFlag(
    cmd,
    '{"valid": true, "syntaxOnly": …, "warnings": […]} (a failure: the error object)',
  );
  addTemplateFlags(cmd).action(
    withContext(
      { name: 'kiln validate' },
      async (ctx, template: string, opts: TemplateFlags & { syntaxOnly?: boolean }) => {
        // Validating changes nothing: not even a first catalog in an empty kiln home.
        using catalog = Catalog.openReadOnly(defaultKilnHome());
        const loaded = await loadTemplate(template, {
          registry,
          vars: parseVarFlags(opts.var),
          varFiles: opts.varFile ?? [],
          only: splitNames(opts.only),
          except: splitNames(opts.except),
          syntaxOnly: opts.syntaxOnly === true,
          catalog,
        });
        if (ctx.mode === 'json') {
          const result = {
            valid: true,
            syntaxOnly: opts.syntaxOnly === true,
            warnings: loaded.warnings,
          };
          ctx.out(`${JSON.stringify(result)}\n`);
          return;
        }
        for (const w of loaded.warnings) ctx.err(`Warning: ${w}\n`);
        ctx.out(
          opts.syntaxOnly
            ? 'Syntax-only check passed. Everything looks okay.\n'
            : 'Template validated successfully.\n',
        );
      },
    ),
  );
}
