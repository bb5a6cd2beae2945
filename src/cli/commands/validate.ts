import type { Command } from 'commander';
import { lazyAction } from '../lazy-action.js';
import { addOutputFlag } from './output-flags.js';
import { addTemplateFlags } from './template-flags.js';

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
  addTemplateFlags(cmd).action(lazyAction(() => import('../actions/validate.js'), 'validate'));
}
