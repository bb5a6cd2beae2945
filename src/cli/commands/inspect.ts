import type { Command } from 'commander';
import { registry } from '../../plugins.js';
import {
  hclInspectLines,
  inspectLines,
  isHclTemplatePath,
  readRawTemplate,
} from '../../template/index.js';
import { withContext } from '../context.js';

/** Escapes a machine-readable field as Packer does (commas, newlines, carriage returns). */
function mrField(s: string): string {
  return s.replace(/,/g, '%!(PACKER_COMMA)').replace(/\r/g, '\\r').replace(/\n/g, '\\n');
}

/** `kiln inspect TEMPLATE`: what `packer inspect` prints (or its machine-readable lines). */
export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('see the components of a template')
    .argument('<template>', 'Packer JSON template, .pkr.hcl file or folder of .pkr.hcl files')
    .action(
      withContext({ name: 'kiln inspect' }, async (ctx, template: string) => {
        const machineReadable = ctx.flags.machineReadable === true;
        const lines = isHclTemplatePath(template)
          ? await hclInspectLines(template, { registry })
          : inspectLines(readRawTemplate(template));
        const ts = Math.floor(Date.now() / 1000);
        let out = '';
        for (const line of lines) {
          if ('say' in line)
            out += machineReadable ? `${ts},,ui,say,${mrField(line.say)}\n` : `${line.say}\n`;
          else if (machineReadable)
            out += `${ts},,${line.machine},${line.args.map(mrField).join(',')}\n`;
        }
        ctx.out(out);
      }),
    );
}
