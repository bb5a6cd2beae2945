/**
 * The environment kiln gives ansible-playbook: Ansible settings chosen for speed against a
 * slow (TCG) guest, each applied only where the user left the setting alone — neither in
 * the environment kiln runs in, nor in the provisioner's `ansible_env_vars`, nor in the
 * ansible.cfg that Ansible will read. Environment variables beat ansible.cfg in Ansible's
 * precedence, so setting one blindly would silently override the user's config file.
 *
 * Measured on the sample's release (examples/hello-web, 2 host cores, TCG guest with
 * 2 vCPUs; `python3 -c pass` ≈ 0.3 s and a new SSH connection ≈ 0.8 s in that guest):
 * every SSH session Ansible opens costs 0.25–0.5 s even over a control master, every
 * module run 1.2–2.4 s (Python start, AnsiballZ unzip, module_utils compiled from source).
 * Effect of this file plus ansible-master.ts on that release, same VM, 4 alternations at
 * host load ≈5: the first task 8.2 → 7.2 s (medians; 8 ssh invocations → 7, and the
 * handshake no longer inside it); QEMU's CPU time per playbook unchanged (≈12 s): the
 * rest is guest work Ansible does by design: AnsiballZ ships module_utils as source, so
 * every module run compiles them (systemd: 2.5 s of imports from source against 0.9–1.6 s
 * from .pyc, as it pulls in every fact collector), and `systemctl enable` reloads systemd.
 * Tried and left out: `ssh_transfer_method=piped` (a 191-byte put: sftp and `dd` over the
 * master within noise, medians 0.67 / 0.60 s); the cipher (a task moves ~100 kB).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/** One Ansible setting: the env names and ansible.cfg keys (`section.key`) that set it. */
interface Setting {
  env: readonly string[];
  ini: readonly string[];
}

const PIPELINING: Setting = {
  env: ['ANSIBLE_PIPELINING', 'ANSIBLE_SSH_PIPELINING'],
  ini: ['defaults.pipelining', 'connection.pipelining', 'ssh_connection.pipelining'],
};
const SSH_ARGS: Setting = { env: ['ANSIBLE_SSH_ARGS'], ini: ['ssh_connection.ssh_args'] };
const CONTROL_PATH: Setting = {
  env: ['ANSIBLE_SSH_CONTROL_PATH', 'ANSIBLE_SSH_CONTROL_PATH_DIR'],
  ini: ['ssh_connection.control_path', 'ssh_connection.control_path_dir'],
};
const REMOTE_TMP: Setting = {
  env: ['ANSIBLE_REMOTE_TEMP', 'ANSIBLE_REMOTE_TMP'],
  ini: ['defaults.remote_tmp'],
};
const HOST_KEY_CHECKING: Setting = {
  env: ['ANSIBLE_HOST_KEY_CHECKING', 'ANSIBLE_SSH_HOST_KEY_CHECKING'],
  ini: ['defaults.host_key_checking', 'ssh_connection.host_key_checking'],
};
const RETRY_FILES: Setting = {
  env: ['ANSIBLE_RETRY_FILES_ENABLED'],
  ini: ['defaults.retry_files_enabled'],
};
const LOCAL_TMP: Setting = { env: ['ANSIBLE_LOCAL_TEMP'], ini: ['defaults.local_tmp'] };
const NOCOLOR: Setting = {
  env: ['ANSIBLE_NOCOLOR', 'NO_COLOR', 'ANSIBLE_FORCE_COLOR'],
  ini: ['defaults.nocolor', 'defaults.force_color'],
};

/**
 * The ansible.cfg Ansible will read, in its own search order: $ANSIBLE_CONFIG (a file, or
 * a directory holding ansible.cfg), ./ansible.cfg (ignored by Ansible when the directory
 * is world-writable), ~/.ansible.cfg, /etc/ansible/ansible.cfg. Undefined when none exists.
 */
export function findAnsibleConfig(
  env: Readonly<Record<string, string | undefined>>,
  cwd: string,
  home = homedir(),
): string | undefined {
  const candidates: string[] = [];
  const fromEnv = env.ANSIBLE_CONFIG;
  if (fromEnv) {
    const p = resolve(cwd, fromEnv.replace(/^~(?=\/|$)/, home));
    candidates.push(isDir(p) ? join(p, 'ansible.cfg') : p);
  }
  try {
    if ((statSync(cwd).mode & 0o002) === 0) candidates.push(join(cwd, 'ansible.cfg'));
  } catch {
    // No such cwd: nothing to read there.
  }
  candidates.push(join(home, '.ansible.cfg'), '/etc/ansible/ansible.cfg');
  return candidates.find((p) => existsSync(p) && !isDir(p));
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * The `section.key` names an INI text sets (keys lower-cased as Python's configparser
 * does; comments and continuation lines skipped).
 */
export function iniKeys(text: string): Set<string> {
  const keys = new Set<string>();
  let section = '';
  for (const raw of text.split(/\r?\n/)) {
    if (/^\s/.test(raw)) continue; // a continuation line, or indented noise
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[([^\]]+)\]/.exec(line);
    if (s) {
      section = s[1]!.trim();
      continue;
    }
    const k = /^([^=:]+?)\s*[=:]/.exec(line);
    if (k && section) keys.add(`${section}.${k[1]!.toLowerCase()}`);
  }
  return keys;
}

/** What the user already decided: env vars (process + ansible_env_vars) and ansible.cfg keys. */
export interface UserAnsibleSettings {
  env: Readonly<Record<string, string | undefined>>;
  iniKeys: ReadonlySet<string>;
}

/** Reads the user's ansible.cfg (if any) for {@link kilnAnsibleEnv}. */
export function userAnsibleSettings(
  env: Readonly<Record<string, string | undefined>>,
  cwd = process.cwd(),
  home = homedir(),
): UserAnsibleSettings & { configFile?: string } {
  const configFile = findAnsibleConfig(env, cwd, home);
  let keys = new Set<string>();
  if (configFile) {
    try {
      keys = iniKeys(readFileSync(configFile, 'utf8'));
    } catch {
      // Unreadable: Ansible will complain about it itself.
    }
  }
  return { env, iniKeys: keys, configFile };
}

function userSet(user: UserAnsibleSettings, s: Setting): boolean {
  return s.env.some((n) => user.env[n] !== undefined) || s.ini.some((k) => user.iniKeys.has(k));
}

/** kiln's choice for the ansible-playbook environment, and what it implies. */
export interface KilnAnsibleEnv {
  /** Only the variables kiln sets (the user's own are not repeated here). */
  env: Record<string, string>;
  /**
   * The ControlPath (with ssh's `%C`) every ssh of the run will use, when kiln chose the
   * SSH arguments; a control master started there before ansible-playbook is reused.
   */
  controlPath?: string;
}

/**
 * The env kiln adds for ansible-playbook: each default only where `user` left the setting
 * unset. `work` is the run's private temp dir.
 */
export function kilnAnsibleEnv(work: string, user: UserAnsibleSettings): KilnAnsibleEnv {
  const env: Record<string, string> = {};
  let controlPath: string | undefined;
  const add = (s: Setting, value: string): boolean => {
    if (userSet(user, s)) return false;
    env[s.env[0]!] = value;
    return true;
  };
  // One SSH session per module instead of three or four (mkdir tmp, put, chmod, run, rm).
  add(PIPELINING, 'True');
  // Ansible's default adds `-C`: compression only costs CPU on a local link. The explicit
  // ControlPath (ssh's own %C hash of host, port and user) lets kiln open the master
  // before ansible-playbook needs it (see ansible-master.ts). A user's ssh_args or control
  // path wins, and then kiln starts no master.
  if (!userSet(user, CONTROL_PATH)) {
    // Sockets in kiln's temp dir, so kiln can stop every master afterwards, even with
    // the user's own ssh_args.
    env.ANSIBLE_SSH_CONTROL_PATH_DIR = join(work, 'cp');
    if (!userSet(user, SSH_ARGS)) {
      controlPath = join(work, 'cp', '%C');
      env.ANSIBLE_SSH_ARGS = `-o ControlMaster=auto -o ControlPersist=60s -o ControlPath=${controlPath}`;
    }
  }
  // Ansible resolves `~/.ansible/tmp` with one more SSH session (`echo ~root`) before a
  // task's first temp dir. `$HOME/.ansible/tmp` is the same directory, expanded by the
  // guest's shell inside the mkdir command Ansible sends anyway (and by AnsibleModule's
  // expandvars); Windows shells do not read ANSIBLE_REMOTE_TEMP. kiln's clean-guest step
  // removes ~/.ansible from images.
  add(REMOTE_TMP, '$HOME/.ansible/tmp');
  add(HOST_KEY_CHECKING, 'True');
  add(RETRY_FILES, 'False');
  add(LOCAL_TMP, join(work, 'tmp'));
  add(NOCOLOR, '1');
  return { env, controlPath };
}
