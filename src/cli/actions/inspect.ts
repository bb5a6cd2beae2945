/** The bodies of `kiln inspect` (declared in `commands/inspect.ts`). */
import { existsSync } from 'node:fs';
import { Catalog } from '../../catalog/index.js';
import { UserError } from '../../lib/errors.js';
import { registry } from '../../plugins.js';
import {
  hclInspectLines,
  type InspectLine,
  inspectLines,
  isHclTemplatePath,
  readRawTemplate,
  readVarSources,
} from '../../template/index.js';
import { parseVarFlags, type TemplateFlags } from '../commands/template-flags.js';
import { withContext } from '../context.js';

/** Escapes a machine-readable field as Packer does (commas, newlines, carriage returns). */
function mrField(s: string): string {
  return s.replace(/,/g, '%!(PACKER_COMMA)').replace(/\r/g, '\\r').replace(/\n/g, '\\n');
}

/** `kiln inspect IMAGE` is a natural slip for `kiln images inspect IMAGE`: say so. */
function refuseImage(ref: string): void {
  using catalog = Catalog.openReadOnly();
  let image: { id: string; name: string } | undefined;
  try {
    image = catalog.images.resolve(ref);
  } catch {
    return; // not an image either: the template reader says what is wrong
  }
  throw new UserError('TemplateNotFound', `cannot read template ${ref}: no such file`, {
    hint: `"${ref}" is an image in the catalog (${image.id} ${image.name}): to see it, run \`kiln images inspect ${ref}\``,
  });
}

/** `kiln inspect TEMPLATE`: what `packer inspect` prints. */
export const inspect = withContext(
  { name: 'kiln inspect' },
  async (ctx, template: string, opts: Pick<TemplateFlags, 'var' | 'varFile'>) => {
    const machineReadable = ctx.flags.machineReadable === true;
    const vars = parseVarFlags(opts.var);
    const varFiles = opts.varFile ?? [];
    if (!existsSync(template)) refuseImage(template);
    let lines: InspectLine[];
    if (isHclTemplatePath(template)) {
      lines = await hclInspectLines(template, { registry, vars, varFiles });
    } else {
      // As packer inspect: the variable files are read (a bad one is an error), and the
      // template's defaults are what is shown.
      readVarSources(varFiles, vars);
      lines = inspectLines(readRawTemplate(template));
    }
    const ts = Math.floor(Date.now() / 1000);
    let out = '';
    for (const line of lines) {
      if ('say' in line)
        out += machineReadable ? `${ts},,ui,say,${mrField(line.say)}\n` : `${line.say}\n`;
      else if (machineReadable)
        out += `${ts},,${line.machine},${line.args.map(mrField).join(',')}\n`;
    }
    ctx.out(out);
  },
);
