import type { Command } from 'commander';
import { lazyAction } from '../lazy-action.js';

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
    .action(lazyAction(() => import('../actions/hcl2-upgrade.js'), 'hcl2Upgrade'));
}
