import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { findAnsibleConfig, iniKeys, kilnAnsibleEnv, userAnsibleSettings } from './ansible-env.js';
import { masterArgs } from './ansible-master.js';

const root = mkdtempSync(join(tmpdir(), 'kiln-ansible-env-unit-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function dirWith(name: string, files: Record<string, string>): string {
  const d = join(root, name);
  mkdirSync(d, { recursive: true });
  for (const [f, text] of Object.entries(files)) writeFileSync(join(d, f), text);
  return d;
}

const none = { env: {}, iniKeys: new Set<string>() };

describe('iniKeys', () => {
  it('lists section.key as configparser reads them, skipping comments and continuations', () => {
    const keys = iniKeys(
      [
        '# comment',
        'orphan = 1',
        '[defaults]',
        'Remote_Tmp = /x',
        '; pipelining = True',
        'host_key_checking: False',
        '[ssh_connection]',
        'ssh_args = -o A=1',
        '  -o B=2',
        '',
      ].join('\n'),
    );
    expect([...keys].sort()).toEqual([
      'defaults.host_key_checking',
      'defaults.remote_tmp',
      'ssh_connection.ssh_args',
    ]);
  });
});

describe('findAnsibleConfig', () => {
  const home = dirWith('home', { '.ansible.cfg': '[defaults]\n' });
  const cwd = dirWith('cwd', { 'ansible.cfg': '[defaults]\n' });
  const other = dirWith('other', { 'ansible.cfg': '[defaults]\n', 'my.cfg': '' });

  it('follows Ansible’s order: ANSIBLE_CONFIG (file or directory), ./ansible.cfg, ~/.ansible.cfg', () => {
    expect(findAnsibleConfig({ ANSIBLE_CONFIG: join(other, 'my.cfg') }, cwd, home)).toBe(
      join(other, 'my.cfg'),
    );
    expect(findAnsibleConfig({ ANSIBLE_CONFIG: other }, cwd, home)).toBe(
      join(other, 'ansible.cfg'),
    );
    expect(findAnsibleConfig({}, cwd, home)).toBe(join(cwd, 'ansible.cfg'));
    expect(findAnsibleConfig({}, dirWith('empty', {}), home)).toBe(join(home, '.ansible.cfg'));
  });

  it('skips ansible.cfg in a world-writable directory, as Ansible does', () => {
    const ww = dirWith('world-writable', { 'ansible.cfg': '[defaults]\n' });
    chmodSync(ww, 0o777);
    expect(findAnsibleConfig({}, ww, home)).toBe(join(home, '.ansible.cfg'));
  });
});

describe('kilnAnsibleEnv', () => {
  it('sets pipelining, ssh args with an explicit ControlPath, a remote tmp without `~`, and quiet defaults', () => {
    const r = kilnAnsibleEnv('/w', none);
    expect(r.env).toEqual({
      ANSIBLE_PIPELINING: 'True',
      ANSIBLE_SSH_CONTROL_PATH_DIR: '/w/cp',
      ANSIBLE_SSH_ARGS: '-o ControlMaster=auto -o ControlPersist=60s -o ControlPath=/w/cp/%C',
      ANSIBLE_REMOTE_TEMP: '$HOME/.ansible/tmp',
      ANSIBLE_HOST_KEY_CHECKING: 'True',
      ANSIBLE_RETRY_FILES_ENABLED: 'False',
      ANSIBLE_LOCAL_TEMP: '/w/tmp',
      ANSIBLE_NOCOLOR: '1',
    });
    expect(r.controlPath).toBe('/w/cp/%C');
  });

  it('leaves every setting the user made in the environment to the user', () => {
    const r = kilnAnsibleEnv('/w', {
      env: {
        ANSIBLE_SSH_PIPELINING: 'False',
        ANSIBLE_REMOTE_TMP: '/var/tmp/a',
        NO_COLOR: '1',
        ANSIBLE_SSH_CONTROL_PATH_DIR: '/cp',
      },
      iniKeys: new Set(),
    });
    expect(r.env).toEqual({
      ANSIBLE_HOST_KEY_CHECKING: 'True',
      ANSIBLE_RETRY_FILES_ENABLED: 'False',
      ANSIBLE_LOCAL_TEMP: '/w/tmp',
    });
    expect(r.controlPath).toBeUndefined();
  });

  it('lets the user’s ansible.cfg win over kiln’s defaults (env would beat the file)', () => {
    const cwd = dirWith('cfg-wins', {
      'ansible.cfg': [
        '[defaults]',
        'remote_tmp = /tmp/mine',
        'host_key_checking = False',
        '[ssh_connection]',
        'ssh_args = -o ControlMaster=no',
        'pipelining = False',
      ].join('\n'),
    });
    const user = userAnsibleSettings({}, cwd, join(root, 'no-home'));
    expect(user.configFile).toBe(join(cwd, 'ansible.cfg'));
    const r = kilnAnsibleEnv('/w', user);
    expect(Object.keys(r.env).sort()).toEqual([
      'ANSIBLE_LOCAL_TEMP',
      'ANSIBLE_NOCOLOR',
      'ANSIBLE_RETRY_FILES_ENABLED',
      'ANSIBLE_SSH_CONTROL_PATH_DIR',
    ]);
    expect(r.controlPath).toBeUndefined();
  });
});

describe('masterArgs', () => {
  it('opens a foreground master at the ControlPath with the inventory’s key and host key checking', () => {
    expect(
      masterArgs({
        host: '127.0.0.1',
        port: 2222,
        user: 'root',
        privateKeyFile: '/k/id',
        knownHostsFile: '/k/known_hosts',
        controlPath: '/w/cp/%C',
      }).join(' '),
    ).toBe(
      '-N -n -o ControlMaster=yes -o ControlPath=/w/cp/%C -o ControlPersist=no -o BatchMode=yes -o ConnectTimeout=10 -o IdentitiesOnly=yes -i /k/id -o UserKnownHostsFile=/k/known_hosts -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -p 2222 -l root 127.0.0.1',
    );
  });
});
