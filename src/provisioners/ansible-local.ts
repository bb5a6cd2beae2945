/**
 * Packer's `ansible-local` provisioner (1.6.6 fields and layout): uploads the playbook(s),
 * playbook directory, roles, group_vars, host_vars and an inventory to a staging
 * directory on the machine, then runs `ansible-playbook -c local` there. Ansible must be
 * installed in the machine's image.
 */
import { randomUUID } from 'node:crypto';
import { statSync } from 'node:fs';
import { basename, posix } from 'node:path';
import { z } from 'zod';
import type { Communicator } from '../communicator/communicator.js';
import { shellQuote as q } from '../communicator/shell-quote.js';
import type {
  PrepareContext,
  PrepareResult,
  ProvisionContext,
  ProvisionerPlugin,
} from '../core/plugin.js';
import { KilnError } from '../lib/errors.js';
import { moveSecretExtraVars } from './ansible-extra-vars.js';
import { AnsibleOutputWatcher } from './ansible-output.js';
import { ansibleLocalInputs } from './inputs.js';
import { requireComm } from './remote.js';

export const ansibleLocalSchema = z
  .strictObject({
    /** The main playbook. */
    playbook_file: z.string().optional(),
    /** Several playbooks, run in order (instead of `playbook_file`). */
    playbook_files: z.array(z.string()).optional(),
    /** A directory uploaded as the staging directory's contents (roles, vars, files…). */
    playbook_dir: z.string().optional(),
    /** Directories of playbooks uploaded beside the main one. */
    playbook_paths: z.array(z.string()).optional(),
    /** More arguments for ansible-playbook. */
    extra_arguments: z.array(z.string()).optional(),
    /** The command that runs ansible-playbook (default `ANSIBLE_FORCE_COLOR=1 PYTHONUNBUFFERED=1 ansible-playbook`). */
    command: z.string().optional(),
    /** Where things are uploaded on the machine (default `/tmp/packer-provisioner-ansible-local/<uuid>`). */
    staging_directory: z.string().optional(),
    /** Remove the staging directory afterwards. */
    clean_staging_directory: z.boolean().optional(),
    /** Use this inventory file instead of generating one. */
    inventory_file: z.string().optional(),
    /** Groups 127.0.0.1 is put in, in the generated inventory. */
    inventory_groups: z.array(z.string()).optional(),
    /** A local group_vars directory. */
    group_vars: z.string().optional(),
    /** A local host_vars directory. */
    host_vars: z.string().optional(),
    /** Local role directories, uploaded under `roles/`. */
    role_paths: z.array(z.string()).optional(),
    /** A requirements file for ansible-galaxy, run on the machine. */
    galaxy_file: z.string().optional(),
    /** The galaxy program on the machine (default `ansible-galaxy`). */
    galaxy_command: z.string().optional(),
  })
  .superRefine((c, issue) => {
    if (c.playbook_file && c.playbook_files && c.playbook_files.length > 0) {
      issue.addIssue({
        code: 'custom',
        message: 'Either playbook_file or playbook_files can be specified, not both',
      });
    }
    if (!c.playbook_file && !(c.playbook_files && c.playbook_files.length > 0)) {
      issue.addIssue({
        code: 'custom',
        message: 'Either playbook_file or playbook_files must be specified',
      });
    }
  });

export type AnsibleLocalConfig = z.infer<typeof ansibleLocalSchema>;

const DEFAULT_COMMAND = 'ANSIBLE_FORCE_COLOR=1 PYTHONUNBUFFERED=1 ansible-playbook';

export const ansibleLocalProvisioner: ProvisionerPlugin<AnsibleLocalConfig> = {
  type: 'ansible-local',
  schema: ansibleLocalSchema,
  inputs: ansibleLocalInputs,

  async prepare(config: AnsibleLocalConfig, _ctx: PrepareContext): Promise<PrepareResult> {
    const errors: PrepareResult['errors'] = [];
    const check = (key: string, path: string | undefined, kind: 'file' | 'dir'): void => {
      if (!path) return;
      try {
        const st = statSync(path);
        if (kind === 'file' ? !st.isFile() : !st.isDirectory()) {
          errors.push({
            key,
            message: `${key}: ${path} must be a ${kind === 'file' ? 'file' : 'directory'}`,
          });
        }
      } catch {
        errors.push({ key, message: `${key}: ${path} is invalid: no such file or directory` });
      }
    };
    check('playbook_file', config.playbook_file, 'file');
    for (const p of config.playbook_files ?? []) check('playbook_files', p, 'file');
    check('playbook_dir', config.playbook_dir, 'dir');
    for (const p of config.playbook_paths ?? []) check('playbook_paths', p, 'dir');
    check('inventory_file', config.inventory_file, 'file');
    check('group_vars', config.group_vars, 'dir');
    check('host_vars', config.host_vars, 'dir');
    for (const p of config.role_paths ?? []) check('role_paths', p, 'dir');
    check('galaxy_file', config.galaxy_file, 'file');
    return { warnings: [], errors };
  },

  async provision(config: AnsibleLocalConfig, ctx: ProvisionContext): Promise<void> {
    const comm = requireComm(ctx);
    const staging = (
      config.staging_directory || `/tmp/packer-provisioner-ansible-local/${randomUUID()}`
    ).replace(/\/+$/, '');
    const signal = ctx.signal;
    const sh = (command: string): Promise<void> => checked(comm, command, ctx);
    ctx.ui.say('Provisioning with Ansible...');
    try {
      if (config.playbook_dir) {
        ctx.ui.message('Uploading Playbook directory to Ansible staging directory...');
        await sh(`mkdir -p ${q(staging)}`);
        await comm.uploadDir(`${config.playbook_dir.replace(/\/+$/, '')}/`, staging, { signal });
      } else {
        ctx.ui.message('Creating Ansible staging directory...');
        await sh(`mkdir -p ${q(staging)}`);
      }
      const playbooks = config.playbook_file
        ? [config.playbook_file]
        : (config.playbook_files ?? []);
      for (const pb of playbooks) {
        ctx.ui.message(`Uploading main Playbook file...`);
        await comm.upload(pb, posix.join(staging, basename(pb)), { signal });
      }
      let inventory: string;
      if (config.inventory_file) {
        ctx.ui.message('Uploading inventory file...');
        inventory = posix.join(staging, basename(config.inventory_file));
        await comm.upload(config.inventory_file, inventory, { signal });
      } else {
        const groups = config.inventory_groups ?? [];
        const text =
          groups.length > 0 ? groups.map((g) => `[${g}]\n127.0.0.1\n`).join('') : '127.0.0.1\n';
        inventory = posix.join(
          staging,
          `packer-provisioner-ansible-local${randomUUID().slice(0, 8)}`,
        );
        await comm.upload(Buffer.from(text), inventory, { mode: 0o644, signal });
      }
      if (config.galaxy_file) {
        ctx.ui.message('Uploading galaxy file...');
        const remote = posix.join(staging, basename(config.galaxy_file));
        await comm.upload(config.galaxy_file, remote, { signal });
        ctx.ui.message('Executing Ansible Galaxy');
        await sh(
          `cd ${q(staging)} && ${config.galaxy_command || 'ansible-galaxy'} install -r ${q(remote)} -p ${q(posix.join(staging, 'roles'))}`,
        );
      }
      if (config.group_vars) {
        ctx.ui.message('Uploading group_vars directory...');
        await comm.uploadDir(
          `${config.group_vars.replace(/\/+$/, '')}/`,
          posix.join(staging, 'group_vars'),
          { signal },
        );
      }
      if (config.host_vars) {
        ctx.ui.message('Uploading host_vars directory...');
        await comm.uploadDir(
          `${config.host_vars.replace(/\/+$/, '')}/`,
          posix.join(staging, 'host_vars'),
          { signal },
        );
      }
      if (config.role_paths && config.role_paths.length > 0) {
        ctx.ui.message('Uploading role directories...');
        await sh(`mkdir -p ${q(posix.join(staging, 'roles'))}`);
        for (const role of config.role_paths) {
          await comm.uploadDir(
            `${role.replace(/\/+$/, '')}/`,
            posix.join(staging, 'roles', basename(role.replace(/\/+$/, ''))),
            { signal },
          );
        }
      }
      for (const dir of config.playbook_paths ?? []) {
        ctx.ui.message('Uploading additional Playbooks...');
        await sh(`mkdir -p ${q(posix.join(staging, 'playbooks'))}`);
        await comm.uploadDir(
          `${dir.replace(/\/+$/, '')}/`,
          posix.join(staging, 'playbooks', basename(dir.replace(/\/+$/, ''))),
          { signal },
        );
      }

      const extra = await moveSecretExtraVars(
        config.extra_arguments ?? [],
        ctx.secrets,
        async (n, json) => {
          const file = posix.join(staging, `kiln-extra-vars-${n}.json`);
          await comm.upload(Buffer.from(json), file, { mode: 0o600, signal });
          return file;
        },
      );
      const builtin = `packer_build_name=${ctx.buildName} packer_builder_type=${ctx.buildType}`;
      for (const pb of playbooks) {
        const playbook = posix.join(staging, basename(pb));
        const command = `cd ${q(staging)} && ${config.command || DEFAULT_COMMAND} ${q(playbook)} --extra-vars ${q(builtin)}${extra.length ? ` ${extra.join(' ')}` : ''} -c local -i ${q(inventory)}`;
        ctx.ui.message(`Executing Ansible: ${ctx.secrets.redact(command)}`);
        const watcher = new AnsibleOutputWatcher();
        const onLine = (l: string): void => {
          watcher.line(l);
          ctx.ui.message(l);
        };
        const r = await comm.exec({ command, signal, onStdout: onLine, onStderr: onLine });
        watcher.end();
        if (r.exitCode !== 0) {
          const f = watcher.first();
          const what = f
            ? f.kind === 'ERROR'
              ? `Ansible failed: ${f.message}`
              : `Ansible task "${f.task ?? '?'}" failed on host "${f.host}": ${f.message}`
            : `Non-zero exit status: ${r.exitCode}`;
          throw new KilnError('AnsibleFailed', what, {
            where: ctx.label,
            source: 'user',
            details: f ? [`ansible-playbook exited with status ${r.exitCode}`] : [],
          });
        }
      }
    } finally {
      // Secret extra-vars files live in the staging directory: remove them even when the
      // staging directory is kept.
      if (!signal.aborted) {
        // Zeroed in place first: a plain rm leaves the values in the image's freed blocks.
        const shred = `shred -n 0 -z ${q(staging)}/kiln-extra-vars-*.json 2>/dev/null; `;
        const cleanup = config.clean_staging_directory
          ? `${shred}rm -rf ${q(staging)}`
          : `${shred}rm -f ${q(staging)}/kiln-extra-vars-*.json`;
        if (config.clean_staging_directory) ctx.ui.message('Removing staging directory...');
        await comm.exec({ command: cleanup }).catch(() => undefined);
      }
    }
  },
};

async function checked(comm: Communicator, command: string, ctx: ProvisionContext): Promise<void> {
  const lines: string[] = [];
  const r = await comm.exec({
    command,
    signal: ctx.signal,
    onStdout: (l) => lines.push(l),
    onStderr: (l) => lines.push(l),
  });
  if (r.exitCode !== 0) {
    throw new KilnError('RemoteCommandFailed', `Non-zero exit status: ${r.exitCode}`, {
      where: ctx.label,
      source: 'system',
      details: lines.slice(-10),
    });
  }
}
