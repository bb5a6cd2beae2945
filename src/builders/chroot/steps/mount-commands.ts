/**
 * amazon-chroot's `pre_mount_commands` (before the root is mounted: `{{.Device}}`) and
 * `post_mount_commands` (after the mounts: `{{.Device}}`, `{{.MountPath}}`): host shell
 * commands, each through `command_wrapper`, each required to exit 0.
 */
import type { Step } from '../../../core/steps.js';
import { UserError } from '../../../lib/errors.js';
import type { ChrootState } from '../state.js';

/** The host command line `command_wrapper` makes of `command`. */
export function wrapCommand(state: ChrootState, command: string): string {
  const w = state.config.command_wrapper;
  return /^\{\{\s*\.Command\s*\}\}$/.test(w.trim())
    ? command
    : state.ctx.interpolate(w, { Command: command });
}

function mountCommands(
  name: string,
  key: 'pre_mount_commands' | 'post_mount_commands',
): Step<ChrootState> {
  return {
    name,
    async run(state, { ui, signal }) {
      const commands = state.config[key];
      if (commands.length === 0) return;
      ui.say(
        key === 'pre_mount_commands'
          ? 'Running pre-mount commands...'
          : 'Running post-mount commands...',
      );
      const data = {
        Device: state.device,
        ...(key === 'post_mount_commands' ? { MountPath: state.root } : {}),
      };
      for (const [i, raw] of commands.entries()) {
        const command = wrapCommand(state, state.ctx.interpolate(raw, data));
        const status = await state.driver.hostCommand(command, signal, (line, stream) =>
          stream === 'stdout' ? ui.message(line) : ui.error(line),
        );
        if (status !== 0) {
          throw new UserError('MountCommandFailed', `${key}[${i}] exited with status ${status}`, {
            where: `${key}[${i}]`,
            details: [command],
          });
        }
      }
    },
  };
}

export const preMountCommands = mountCommands('pre-mount-commands', 'pre_mount_commands');
export const postMountCommands = mountCommands('post-mount-commands', 'post_mount_commands');
