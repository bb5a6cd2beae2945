/**
 * Packer's `ansible` provisioner (1.6.6 fields): runs `ansible-playbook` on this machine
 * against the build's machine over SSH — directly, never through Packer's SSH proxy,
 * which OpenSSH 9.2 rejects (anchor RESULTS.md problems 4–5); `use_proxy` is accepted
 * and ignored.
 *
 * The temporary inventory (0600) names the host, port, user, the build's key and
 * `ansible_python_interpreter=/usr/bin/python3`, and points OpenSSH at the known_hosts
 * file the communicator wrote, with `StrictHostKeyChecking=yes`. For speed on slow
 * guests it sets Ansible defaults where the user left them unset (ansible-env.ts:
 * pipelining, one control master, no `echo ~` session) and opens the SSH control master
 * itself while ansible-playbook starts (ansible-master.ts), then stops it. Secret
 * extra-vars go through a file, not the command line. Everything temporary is removed
 * whatever happens. Against a chroot build (the chroot builder) the inventory names
 * Ansible's `community.general.chroot` connection and the mounted root instead of SSH.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import type {
  PrepareContext,
  PrepareResult,
  ProvisionContext,
  ProvisionerPlugin,
} from '../core/plugin.js';
import { CancelledError, KilnError, UserError } from '../lib/errors.js';
import { haveCommand, run } from '../lib/exec.js';
import { kilnAnsibleEnv, userAnsibleSettings } from './ansible-env.js';
import { moveSecretExtraVars } from './ansible-extra-vars.js';
import { type ControlMaster, startControlMaster } from './ansible-master.js';
import { AnsibleOutputWatcher } from './ansible-output.js';
import { ansibleInputs } from './inputs.js';
import { requireComm, splitKeyValue } from './remote.js';

export const ansibleSchema = z.strictObject({
  /** The playbook to run (required). */
  playbook_file: z.string(),
  /** The program to run (default `ansible-playbook`). */
  command: z.string().optional(),
  /** More arguments for ansible-playbook, e.g. `["--extra-vars", "port=8080"]`. */
  extra_arguments: z.array(z.string()).optional(),
  /** `KEY=value` environment for ansible-playbook (e.g. `ANSIBLE_NOCOLOR=1`). */
  ansible_env_vars: z.array(z.string()).optional(),
  /** The remote user (default: the communicator's user). */
  user: z.string().optional(),
  /** Inventory groups the host belongs to. */
  groups: z.array(z.string()).optional(),
  /** Inventory groups with no hosts. */
  empty_groups: z.array(z.string()).optional(),
  /** The host's name in the inventory (default `default`). */
  host_alias: z.string().optional(),
  /** Where to write the inventory (default: a temp dir). */
  inventory_directory: z.string().optional(),
  /** Use this inventory instead of generating one. */
  inventory_file: z.string().optional(),
  /** A requirements file for ansible-galaxy, installed first. */
  galaxy_file: z.string().optional(),
  /** The ansible-galaxy program (default `ansible-galaxy`). */
  galaxy_command: z.string().optional(),
  /** Reinstall roles even when present (`-f`). */
  galaxy_force_install: z.boolean().optional(),
  /** Where galaxy installs roles, and ANSIBLE_ROLES_PATH. */
  roles_path: z.string().optional(),
  /** Where galaxy installs collections, and ANSIBLE_COLLECTIONS_PATHS. */
  collections_path: z.string().optional(),
  /** Accepted for compatibility; kiln connects with the build's key, no proxy. */
  ssh_authorized_key_file: z.string().optional(),
  /** Accepted for compatibility (proxy only). */
  ssh_host_key_file: z.string().optional(),
  /** Keep the generated inventory file afterwards. */
  keep_inventory_file: z.boolean().optional(),
  /** Accepted; kiln never proxies (Packer's proxy breaks with OpenSSH ≥ 8.8). */
  use_proxy: z.boolean().optional(),
  /** Accepted for compatibility (proxy only). */
  local_port: z.union([z.number().int(), z.string()]).optional(),
  /** Accepted for compatibility (proxy only). */
  sftp_command: z.string().optional(),
  /** Accepted for compatibility (proxy only). */
  use_sftp: z.boolean().optional(),
  /** Accepted for compatibility. */
  skip_version_check: z.boolean().optional(),
});

export type AnsibleConfig = z.infer<typeof ansibleSchema>;

/** `key=value` with the value quoted for an INI inventory when needed. */
function invVar(key: string, value: string | number): string {
  const v = String(value);
  return /^[A-Za-z0-9_./:@%+,-]+$/.test(v) ? `${key}=${v}` : `${key}='${v.replace(/'/g, `\\'`)}'`;
}

/** The inventory Packer writes (host line, groups, empty groups), with kiln's connection vars. */
export function inventoryText(opts: {
  alias: string;
  host: string;
  port: number;
  user: string;
  privateKeyFile: string;
  knownHostsFile?: string;
  pythonInterpreter?: string;
  groups?: readonly string[];
  emptyGroups?: readonly string[];
}): string {
  const sshArgs = [
    '-o IdentitiesOnly=yes',
    ...(opts.knownHostsFile
      ? [
          `-o UserKnownHostsFile=${opts.knownHostsFile}`,
          '-o GlobalKnownHostsFile=/dev/null',
          '-o StrictHostKeyChecking=yes',
        ]
      : []),
  ].join(' ');
  const vars = [
    invVar('ansible_host', opts.host),
    invVar('ansible_user', opts.user),
    invVar('ansible_port', opts.port),
    invVar('ansible_ssh_private_key_file', opts.privateKeyFile),
    invVar('ansible_ssh_common_args', sshArgs),
    ...(opts.pythonInterpreter
      ? [invVar('ansible_python_interpreter', opts.pythonInterpreter)]
      : []),
  ];
  const host = `${opts.alias} ${vars.join(' ')}\n`;
  let text = host;
  for (const g of opts.groups ?? []) text += `[${g}]\n${host}`;
  for (const g of opts.emptyGroups ?? []) text += `[${g}]\n`;
  return text;
}

/**
 * The inventory for a chroot build (the chroot builder): Ansible's own
 * `community.general.chroot` connection into the mounted image, as root on this host.
 */
export function chrootInventoryText(opts: {
  alias: string;
  root: string;
  pythonInterpreter?: string;
  groups?: readonly string[];
  emptyGroups?: readonly string[];
}): string {
  const vars = [
    invVar('ansible_connection', 'community.general.chroot'),
    invVar('ansible_host', opts.root),
    ...(opts.pythonInterpreter
      ? [invVar('ansible_python_interpreter', opts.pythonInterpreter)]
      : []),
  ];
  const host = `${opts.alias} ${vars.join(' ')}\n`;
  let text = host;
  for (const g of opts.groups ?? []) text += `[${g}]\n${host}`;
  for (const g of opts.emptyGroups ?? []) text += `[${g}]\n`;
  return text;
}

export const ansibleProvisioner: ProvisionerPlugin<AnsibleConfig> = {
  type: 'ansible',
  schema: ansibleSchema,
  inputs: ansibleInputs,

  async prepare(config: AnsibleConfig, _ctx: PrepareContext): Promise<PrepareResult> {
    const errors: PrepareResult['errors'] = [];
    const warnings: string[] = [];
    const mustBeFile = (key: keyof AnsibleConfig, path: string | undefined): void => {
      if (!path) return;
      try {
        if (!statSync(path).isFile())
          errors.push({ key, message: `${key}: ${path} must point to a file` });
      } catch {
        errors.push({ key, message: `${key}: ${path} is invalid: no such file or directory` });
      }
    };
    mustBeFile('playbook_file', config.playbook_file);
    mustBeFile('galaxy_file', config.galaxy_file);
    mustBeFile('inventory_file', config.inventory_file);
    if (config.inventory_directory) {
      try {
        if (!statSync(config.inventory_directory).isDirectory()) throw new Error();
      } catch {
        errors.push({
          key: 'inventory_directory',
          message: `inventory_directory: ${config.inventory_directory} must be an existing directory`,
        });
      }
    }
    for (const kv of config.ansible_env_vars ?? []) {
      if (!splitKeyValue(kv))
        errors.push({
          key: 'ansible_env_vars',
          message: `ansible_env_vars: not in format 'KEY=value': ${kv}`,
        });
    }
    if (config.use_proxy === true)
      warnings.push('ansible: use_proxy is ignored; kiln connects ansible straight to the machine');
    if (config.ssh_authorized_key_file)
      warnings.push(
        "ansible: ssh_authorized_key_file is ignored; ansible uses the build's own key",
      );
    const command = config.command || 'ansible-playbook';
    if (errors.length === 0 && !(await haveCommand(command))) {
      throw new UserError(
        'ToolMissing',
        `${command} is not installed (or not on PATH); the ansible provisioner needs it`,
        {
          hint: 'install it: sudo apt-get install ansible (or ansible-core)',
        },
      );
    }
    if (
      config.galaxy_file &&
      errors.length === 0 &&
      !(await haveCommand(config.galaxy_command || 'ansible-galaxy'))
    ) {
      throw new UserError(
        'ToolMissing',
        `${config.galaxy_command || 'ansible-galaxy'} is not installed (or not on PATH)`,
        {
          hint: 'install it: sudo apt-get install ansible (or ansible-core)',
        },
      );
    }
    return { warnings, errors };
  },

  async provision(config: AnsibleConfig, ctx: ProvisionContext): Promise<void> {
    const comm = requireComm(ctx);
    const conn = comm.connection;
    const command = config.command || 'ansible-playbook';
    const work = await mkdtemp(join(tmpdir(), 'kiln-ansible-'));
    let keptInventory: string | undefined;
    let master: ControlMaster | undefined;
    const userEnv: Record<string, string> = {};
    for (const kv of config.ansible_env_vars ?? []) {
      const pair = splitKeyValue(kv);
      if (pair) userEnv[pair[0]] = pair[1];
    }
    const remoteUser = config.user || conn.user;
    const kiln = kilnAnsibleEnv(work, userAnsibleSettings({ ...process.env, ...userEnv }));
    const env: Record<string, string> = { ...kiln.env, PYTHONUNBUFFERED: '1', ...userEnv };
    if (config.roles_path) env.ANSIBLE_ROLES_PATH = resolve(config.roles_path);
    if (config.collections_path) env.ANSIBLE_COLLECTIONS_PATHS = resolve(config.collections_path);

    try {
      ctx.ui.say(`Provisioning with Ansible...`);
      // ssh binds the control socket but does not make its directory.
      await mkdir(join(work, 'cp'), { mode: 0o700 });
      const extraText = (config.extra_arguments ?? []).join(' ');
      // Open the SSH connection now, while ansible-playbook (and galaxy) start up, when
      // ansible will connect where kiln would: kiln's inventory, no host/port/user override.
      if (
        conn.type === 'ssh' &&
        kiln.controlPath &&
        !config.inventory_file &&
        !/\bansible_(host|port|user|connection|ssh_host|ssh_port|ssh_user)\b/.test(extraText)
      ) {
        master = startControlMaster(
          {
            host: conn.host,
            port: conn.port,
            user: remoteUser,
            privateKeyFile: conn.privateKeyFile,
            knownHostsFile: conn.knownHostsFile,
            controlPath: kiln.controlPath,
          },
          ctx.signal,
        );
      }
      if (config.galaxy_file) await runGalaxy(config, ctx, env);

      let inventory = config.inventory_file;
      if (!inventory) {
        const userPython =
          /ansible_python_interpreter/.test(extraText) || 'ANSIBLE_PYTHON_INTERPRETER' in userEnv;
        const common = {
          alias: config.host_alias || 'default',
          pythonInterpreter: userPython ? undefined : '/usr/bin/python3',
          groups: config.groups,
          emptyGroups: config.empty_groups,
        };
        const text =
          conn.type === 'chroot'
            ? chrootInventoryText({ ...common, root: conn.root })
            : inventoryText({
                ...common,
                host: conn.host,
                port: conn.port,
                user: remoteUser,
                privateKeyFile: conn.privateKeyFile,
                knownHostsFile: conn.knownHostsFile,
              });
        const name = `packer-provisioner-ansible${randomBytes(5).toString('hex')}`;
        const dir = config.inventory_directory
          ? resolve(config.inventory_directory)
          : config.keep_inventory_file
            ? tmpdir()
            : work;
        inventory = join(dir, name);
        await writeFile(inventory, text, { mode: 0o600 });
        if (dir !== work) keptInventory = inventory;
      }

      const extra = await moveSecretExtraVars(
        config.extra_arguments ?? [],
        ctx.secrets,
        async (n, json) => {
          const file = join(work, `extra-vars-${n}.json`);
          await writeFile(file, json, { mode: 0o600 });
          return file;
        },
      );
      const args = [
        '-e',
        `packer_build_name=${ctx.buildName}`,
        '-e',
        `packer_builder_type=${ctx.buildType}`,
      ];
      const http = ctx.generated.PackerHTTPAddr;
      if (typeof http === 'string' && http && !http.startsWith('ERR_'))
        args.push('-e', `packer_http_addr=${http}`);
      args.push(...extra, '-i', inventory, resolve(config.playbook_file));

      const watcher = new AnsibleOutputWatcher();
      const onLine = (l: string): void => {
        watcher.line(l);
        ctx.ui.message(l);
      };
      ctx.ui.message(
        `Executing Ansible: ${command} ${args.map((a) => (/\s/.test(a) ? `'${a}'` : a)).join(' ')}`,
      );
      const r = await run(command, args, {
        signal: ctx.signal,
        env,
        reject: false,
        processGroup: true,
        onStdout: onLine,
        onStderr: onLine,
        installHint: 'install it: sudo apt-get install ansible (or ansible-core)',
      });
      watcher.end();
      if (r.exitCode !== 0 || r.signal) {
        const status = r.signal ? `was killed by ${r.signal}` : `exited with status ${r.exitCode}`;
        const f = watcher.first();
        const what = f
          ? f.kind === 'ERROR'
            ? `Ansible failed: ${f.message}`
            : `Ansible task "${f.task ?? '?'}" failed on host "${f.host}"${f.kind === 'UNREACHABLE' ? ' (unreachable)' : ''}: ${f.message}`
          : `Error executing Ansible: ${command} ${status}`;
        throw new KilnError('AnsibleFailed', what, {
          where: ctx.label,
          source: 'user',
          details: f ? [`${command} ${status}`] : [],
          hint:
            f?.kind === 'UNREACHABLE'
              ? 'the machine did not accept the SSH connection from ansible; see the output above'
              : undefined,
        });
      }
    } catch (err) {
      if (ctx.signal.aborted && !(err instanceof CancelledError))
        throw new CancelledError('ansible cancelled', { cause: err });
      throw err;
    } finally {
      await master?.stop();
      await stopControlMasters(join(work, 'cp'));
      await rm(work, { recursive: true, force: true });
      if (keptInventory && !config.keep_inventory_file) await rm(keptInventory, { force: true });
      else if (keptInventory) ctx.ui.message(`Kept inventory file ${keptInventory}`);
    }
  },
};

async function runGalaxy(
  config: AnsibleConfig,
  ctx: ProvisionContext,
  env: Record<string, string>,
): Promise<void> {
  const galaxy = config.galaxy_command || 'ansible-galaxy';
  const file = resolve(config.galaxy_file!);
  const roleArgs = ['install', '-r', file];
  const collectionArgs = ['collection', 'install', '-r', file];
  if (config.galaxy_force_install) {
    roleArgs.push('-f');
    collectionArgs.push('-f');
  }
  if (config.roles_path) roleArgs.push('-p', resolve(config.roles_path));
  if (config.collections_path) collectionArgs.push('-p', resolve(config.collections_path));
  const runOne = async (args: string[]): Promise<void> => {
    ctx.ui.message(`Executing Ansible Galaxy: ${galaxy} ${args.join(' ')}`);
    const r = await run(galaxy, args, {
      signal: ctx.signal,
      env,
      reject: false,
      onStdout: (l) => ctx.ui.message(l),
      onStderr: (l) => ctx.ui.message(l),
    });
    if (r.exitCode !== 0) {
      throw new KilnError(
        'AnsibleGalaxyFailed',
        `Error executing Ansible Galaxy: ${galaxy} exited with status ${r.exitCode}`,
        {
          where: ctx.label,
          source: 'user',
        },
      );
    }
  };
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  // A plain list is roles only; a mapping may hold `roles:` and/or `collections:`.
  if (!/^collections:/m.test(text) || /^roles:/m.test(text) || /^- /m.test(text))
    await runOne(roleArgs);
  if (/^collections:/m.test(text)) await runOne(collectionArgs);
}

/** Ends the SSH control masters ansible left (ControlPersist), so no ssh process outlives the build. */
async function stopControlMasters(dir: string): Promise<void> {
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    await run(
      'ssh',
      ['-o', `ControlPath=${join(dir, name)}`, '-O', 'exit', 'kiln-control-master'],
      {
        reject: false,
        timeoutMs: 5000,
      },
    ).catch(() => undefined);
  }
}
