import type { Command } from 'commander';
import { lazyAction } from '../lazy-action.js';
import { addTemplateFlags } from './template-flags.js';

/** `kiln inspect [-var k=v]… [-var-file f]… TEMPLATE`: what `packer inspect` prints (or its machine-readable lines). */
export function registerInspect(program: Command): void {
  const cmd = program
    .command('inspect')
    .description('see the components of a template')
    .argument('<template>', 'Packer JSON template, .pkr.hcl file or folder of .pkr.hcl files');
  addTemplateFlags(cmd, { filters: false });
  cmd.action(lazyAction(() => import('../actions/inspect.js'), 'inspect'));
}
