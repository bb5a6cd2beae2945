/**
 * Every plugin kiln knows, by the name templates use. `satisfies` makes a duplicate or
 * misspelt entry a compile error.
 */
import { amazonAmiData } from './builders/amazon/data-ami.js';
import { amazonEbs } from './builders/amazon/plugin.js';
import { chrootBuilder } from './builders/chroot/builder.js';
import { fileBuilder } from './builders/file/builder.js';
import { nullBuilder } from './builders/null/builder.js';
import { qemuBuilder } from './builders/qemu/builder.js';
import type { Registry, SavedStateTransfer } from './core/plugin.js';
import { checksum } from './postprocessors/checksum.js';
import { manifest } from './postprocessors/manifest.js';
import { ansibleProvisioner } from './provisioners/ansible.js';
import { ansibleLocalProvisioner } from './provisioners/ansible-local.js';
import { fileProvisioner } from './provisioners/file.js';
import { shellProvisioner } from './provisioners/shell.js';
import { shellLocal } from './provisioners/shell-local.js';

export const registry = {
  builders: {
    'amazon-ebs': amazonEbs,
    null: nullBuilder,
    file: fileBuilder,
    qemu: qemuBuilder,
    'kiln-chroot': chrootBuilder,
  },
  provisioners: {
    'shell-local': shellLocal,
    file: fileProvisioner,
    shell: shellProvisioner,
    ansible: ansibleProvisioner,
    'ansible-local': ansibleLocalProvisioner,
  },
  postProcessors: { manifest, checksum },
  dataSources: { 'amazon-ami': amazonAmiData },
} satisfies Registry;

/** How images a builder made carry a saved VM state between kiln homes, if they can. */
export function savedStateOf(builder: string): SavedStateTransfer | undefined {
  const builders: Registry['builders'] = registry.builders;
  return Object.hasOwn(builders, builder) ? builders[builder]?.savedState : undefined;
}
