/**
 * Makes the tree a kiln base as plain files (no chroot, no mount): networkd, the resolver,
 * first-boot SSH keys, masked units; and drops the apt options mmdebstrap copied in from
 * this machine (maybe a proxy). It changes only the tree, which dies with the work dir.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Step } from '../../core/steps.js';
import { customiseTree as customise } from '../debian-tree.js';
import type { BaseState } from '../state.js';

export const customiseTree: Step<BaseState> = {
  name: 'customise-tree',
  async run(state, { ui }) {
    ui.say('Customising the tree (networkd, resolver, first-boot SSH keys, masked units)…');
    await customise(state.rootfs, { hostname: 'debian' });
    await rm(join(state.rootfs, 'etc/apt/apt.conf.d/99mmdebstrap'), { force: true });
  },
};
