import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../catalog/index.js';
import { UserError } from '../lib/errors.js';
import { ansibleProvisioner, chrootInventoryText, inventoryText } from './ansible.js';

const ctx = {
  buildName: 'b',
  buildType: 'qemu',
  templateDir: '.',
  kilnHome: '.',
  catalog: Catalog.openReadOnly(join(tmpdir(), `kiln-no-home-${randomUUID()}`)),
};
let dir: string;
let playbook: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiln-ansible-unit-'));
  playbook = join(dir, 'p.yml');
  await writeFile(playbook, '- hosts: all\n  tasks: []\n');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('ansible provisioner', () => {
  it('writes Packer’s inventory layout with host key checking against the build’s known_hosts', () => {
    const text = inventoryText({
      alias: 'default',
      host: '127.0.0.1',
      port: 2222,
      user: 'root',
      privateKeyFile: '/tmp/kiln-ssh-x/id_ed25519',
      knownHostsFile: '/tmp/kiln-ssh-x/known_hosts',
      pythonInterpreter: '/usr/bin/python3',
      groups: ['web'],
      emptyGroups: ['db'],
    });
    const host =
      "default ansible_host=127.0.0.1 ansible_user=root ansible_port=2222 ansible_ssh_private_key_file=/tmp/kiln-ssh-x/id_ed25519 ansible_ssh_common_args='-o IdentitiesOnly=yes -o UserKnownHostsFile=/tmp/kiln-ssh-x/known_hosts -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes' ansible_python_interpreter=/usr/bin/python3\n";
    expect(text).toBe(`${host}[web]\n${host}[db]\n`);
  });

  it('writes a chroot inventory: Ansible’s chroot connection into the mounted root, no SSH', () => {
    const text = chrootInventoryText({
      alias: 'default',
      root: '/tmp/kiln-chroot-x/root',
      pythonInterpreter: '/usr/bin/python3',
      groups: ['web'],
    });
    const host =
      'default ansible_connection=community.general.chroot ansible_host=/tmp/kiln-chroot-x/root ansible_python_interpreter=/usr/bin/python3\n';
    expect(text).toBe(`${host}[web]\n${host}`);
    expect(text).not.toMatch(/ssh|ansible_user|ansible_port/);
  });

  it('reports a missing playbook and bad env vars in prepare, all at once', async () => {
    const r = await ansibleProvisioner.prepare!(
      { playbook_file: join(dir, 'nope.yml'), ansible_env_vars: ['NOEQUALS'] },
      ctx,
    );
    expect(r.errors.map((e) => e.key)).toEqual(['playbook_file', 'ansible_env_vars']);
  });

  it('raises a UserError naming the apt package when ansible-playbook is missing', async () => {
    const err = await ansibleProvisioner.prepare!(
      { playbook_file: playbook, command: 'ansible-playbook-not-here' },
      ctx,
    ).catch((e) => e);
    expect(err).toBeInstanceOf(UserError);
    expect(err.hint).toMatch(/apt-get install ansible/);
  });
});
