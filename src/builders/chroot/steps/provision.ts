/**
 * Runs the template's provisioners in the mounted image through a chroot communicator
 * (Packer's provision hook); Ansible goes through its own chroot connection. Its cleanup
 * closes the communicator.
 */
import type { Step } from '../../../core/steps.js';
import { crashPoint } from '../../../core/test-hooks.js';
import type { ChrootState } from '../state.js';
import { wrapCommand } from './mount-commands.js';

export const provision: Step<ChrootState> = {
  name: 'provision',
  async run(state) {
    const wrapped = wrapCommand(state, '__kiln_command__') !== '__kiln_command__';
    state.comm = state.driver.openCommunicator({
      root: state.root!,
      ...(wrapped ? { wrap: (command: string) => wrapCommand(state, command) } : {}),
    });
    Object.assign(state.ctx.generated, {
      ConnType: 'chroot',
      Device: state.device,
      MountPath: state.root,
      User: 'root',
    });
    crashPoint('chroot-mounted');
    await state.hook.run(state.comm);
  },
  async cleanup(state) {
    await state.comm?.close();
    state.comm = undefined;
  },
};
