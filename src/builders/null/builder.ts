/**
 * Packer's `null` builder: connects to nothing (`communicator: none`) or to an existing
 * host over SSH, runs the provisioners, and exports nothing (artifact id `Null`).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Communicator } from '../../communicator/communicator.js';
import { waitForSsh } from '../../communicator/ssh.js';
import type {
  BuildContext,
  BuilderPlugin,
  PrepareContext,
  PrepareResult,
  ProvisionHook,
} from '../../core/plugin.js';
import { runSteps, type Step } from '../../core/steps.js';
import { parseGoDurationMs } from '../../lib/duration.js';
import { sleep } from '../../lib/sleep.js';
import { NULL_BUILDER_ID, nullArtifact } from './artifact.js';
import { type NullConfig, nullConfigSchema } from './config.js';

interface NullState {
  comm?: Communicator;
}

function steps(config: NullConfig, ctx: BuildContext, hook: ProvisionHook): Step<NullState>[] {
  const connect: Step<NullState> = {
    name: 'connect',
    async run(state, sctx) {
      if (config.communicator === 'none') return;
      const host = config.ssh_host!;
      sctx.ui.say(`Using ssh communicator to connect: ${host}`);
      sctx.ui.say('Waiting for SSH to become available...');
      const open = () =>
        waitForSsh({
          host,
          port: config.ssh_port,
          user: config.ssh_username!,
          privateKeyFile: resolve(config.ssh_private_key_file!),
          timeoutMs: parseGoDurationMs(config.ssh_timeout),
          signal: sctx.signal,
        });
      state.comm = await sctx.ui.wait(`waiting for SSH on ${host}:${config.ssh_port}`, open);
      sctx.ui.say('Connected to SSH!');
      if (config.pause_before_connecting) {
        sctx.ui.say(`Pausing ${config.pause_before_connecting} before connecting...`);
        await sleep(parseGoDurationMs(config.pause_before_connecting!), sctx.signal);
        await state.comm.close();
        state.comm = await open();
      }
      Object.assign(ctx.generated, {
        Host: host,
        Port: config.ssh_port,
        User: config.ssh_username,
        ConnType: 'ssh',
        SSHPrivateKeyFile: config.ssh_private_key_file,
      });
    },
    async cleanup(state) {
      await state.comm?.close();
      state.comm = undefined;
    },
  };
  const provision: Step<NullState> = {
    name: 'provision',
    async run(state) {
      await hook.run(state.comm);
    },
  };
  return [connect, provision];
}

export const nullBuilder: BuilderPlugin<NullConfig> = {
  type: 'null',
  builderId: NULL_BUILDER_ID,
  schema: nullConfigSchema,

  async prepare(config: NullConfig, _ctx: PrepareContext): Promise<PrepareResult> {
    const errors: PrepareResult['errors'] = [];
    if (config.communicator === 'ssh') {
      if (config.ssh_password) {
        errors.push({
          key: 'ssh_password',
          message: 'password authentication is not supported by kiln; use ssh_private_key_file',
        });
      }
      if (config.ssh_agent_auth) {
        errors.push({
          key: 'ssh_agent_auth',
          message: 'agent authentication is not supported by kiln; use ssh_private_key_file',
        });
      }
      if (config.ssh_private_key_file && !existsSync(config.ssh_private_key_file)) {
        errors.push({
          key: 'ssh_private_key_file',
          message: `ssh_private_key_file is invalid: no file at ${config.ssh_private_key_file}`,
        });
      }
    }
    return { warnings: [], errors };
  },

  async run(config: NullConfig, ctx: BuildContext, hook: ProvisionHook) {
    ctx.generated.ID = 'Null';
    await runSteps(
      steps(config, ctx, hook),
      {},
      { signal: ctx.signal, ui: ctx.ui },
      {
        onError: ctx.onError,
        cleanupSignal: ctx.cleanupSignal,
        onCleanupPending: ctx.onCleanupPending,
      },
    );
    return nullArtifact();
  },
};
