/** The body of `kiln validate` (declared in `commands/validate.ts`). */
import { Catalog } from '../../catalog/index.js';
import { defaultKilnHome } from '../../lib/paths.js';
import { registry } from '../../plugins.js';
import { loadTemplate } from '../../template/index.js';
import { parseVarFlags, splitNames, type TemplateFlags } from '../commands/template-flags.js';
import { withContext } from '../context.js';

/** Loads the template as `kiln build` would (every problem at once) and says it is valid. */
export const validate = withContext(
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
);
