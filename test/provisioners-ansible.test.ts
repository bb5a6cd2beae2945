/**
 * The ansible and ansible-local provisioners end to end: ansible-playbook (ansible-core
 * on this machine) against a real OpenSSH server on 127.0.0.1, through the template
 * loader, the null builder and the build runner.
 */
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyDir, type KeyDir } from '../src/communicator/keys.js';
import { formatError } from '../src/lib/errors.js';
import { run } from '../src/lib/exec.js';
import { buildWithProvisioners } from './helpers/null-ssh-build.js';
import { startSshd, type TestSshd } from './helpers/sshd.js';

let sshd: TestSshd;
let key: KeyDir;
let work: string;

const SECRET = 'tok3n-$ecret-"quoted"';

beforeAll(async () => {
  key = await createKeyDir(undefined, 'run-ansibletest');
  sshd = await startSshd({ authorizedKeys: [key.publicKey] });
  work = await mkdtemp(join(tmpdir(), 'kiln-ansible-test-'));
});

afterAll(async () => {
  await sshd?.stop();
  await key?.dispose();
  if (work) await rm(work, { recursive: true, force: true });
});

async function kilnTempDirs(): Promise<string[]> {
  return (await readdir(tmpdir())).filter(
    (n) => n.startsWith('kiln-ansible-') && !join(tmpdir(), n).startsWith(work),
  );
}

async function controlMasters(): Promise<string> {
  return (await run('sh', ['-c', 'pgrep -af "kiln-ansibl[e]-.*/cp/" || true'])).stdout;
}

describe('ansible', () => {
  it('runs a playbook over SSH with host key checking, secrets kept off the command line, and leaves nothing behind', async () => {
    const out = join(work, 'out1');
    const playbook = join(work, 'two-tasks.yml');
    await writeFile(
      playbook,
      [
        '- hosts: all',
        '  gather_facts: false',
        '  tasks:',
        '    - name: Write the port',
        '      ansible.builtin.copy:',
        `        dest: ${out}`,
        '        content: "PORT={{ port }} TOKEN={{ token }}\\n"',
        '    - name: Show who we are',
        '      ansible.builtin.command: id -un',
        '',
      ].join('\n'),
    );
    const before = await kilnTempDirs();
    const r = await buildWithProvisioners(
      work,
      sshd,
      key.privateKeyFile,
      [
        {
          type: 'ansible',
          playbook_file: playbook,
          extra_arguments: ['--extra-vars', 'port=8080', '-e', 'token={{user `token`}}'],
          groups: ['web'],
        },
      ],
      { variables: { token: SECRET }, sensitive: ['token'] },
    );
    expect(r.error).toBeUndefined();
    expect(await readFile(out, 'utf8')).toBe(`PORT=8080 TOKEN=${SECRET}\n`);
    expect(r.lines.some((l) => l.startsWith('TASK [Write the port]'))).toBe(true);
    expect(r.lines.some((l) => /ok=\d+\s+changed=\d+/.test(l))).toBe(true);
    const executing = r.lines.find((l) => l.startsWith('Executing Ansible:'))!;
    expect(executing).toContain('port=8080');
    expect(executing).toMatch(/-e @\/.*extra-vars-1\.json/);
    expect(r.lines.join('\n')).not.toContain(SECRET);
    expect(await kilnTempDirs()).toEqual(before);
    expect(await controlMasters()).toBe('');
  });

  it('refuses a host whose key differs from the one the build recorded', async () => {
    // A second server on another port with another host key, but the first one's
    // known_hosts entry copied for it: StrictHostKeyChecking must stop ansible.
    const other = await startSshd({ authorizedKeys: [key.publicKey] });
    try {
      const out = join(work, 'out-mitm');
      const playbook = join(work, 'mitm.yml');
      await writeFile(
        playbook,
        `- hosts: all\n  gather_facts: false\n  tasks:\n    - name: Touch\n      ansible.builtin.file:\n        path: ${out}\n        state: touch\n`,
      );
      const { SshCommunicator } = await import('../src/communicator/ssh.js');
      const { waitForSsh } = await import('../src/communicator/ssh.js');
      const comm = await waitForSsh({
        host: other.host,
        port: other.port,
        user: 'root',
        privateKeyFile: key.privateKeyFile,
        timeoutMs: 20_000,
      });
      expect(comm).toBeInstanceOf(SshCommunicator);
      const kh = comm.connection.knownHostsFile!;
      await writeFile(kh, `[127.0.0.1]:${other.port} ${sshd.hostPublicKey}\n`);
      const { ansibleProvisioner } = await import('../src/provisioners/ansible.js');
      const { testProvisionContext } = await import('./helpers/provision-context.js');
      const { ctx, lines } = testProvisionContext(comm, 'provisioner 1 (ansible)');
      const err = await ansibleProvisioner
        .provision({ playbook_file: playbook }, ctx)
        .catch((e) => e);
      await comm.close();
      expect(formatError(err)).toMatch(
        /provisioner 1 \(ansible\): Ansible task "Touch" failed on host "default" \(unreachable\)/,
      );
      expect(lines().join('\n')).toMatch(
        /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/,
      );
      expect(existsSync(out)).toBe(false);
    } finally {
      await other.stop();
    }
  });

  it('names the failed task and host, and removes inventory and temp files', async () => {
    const playbook = join(work, 'failing.yml');
    await writeFile(
      playbook,
      [
        '- hosts: all',
        '  gather_facts: false',
        '  tasks:',
        '    - name: This one is fine',
        '      ansible.builtin.command: "true"',
        '    - name: Tolerated failure',
        '      ansible.builtin.command: "false"',
        '      ignore_errors: true',
        '    - name: Install the impossible',
        '      ansible.builtin.command: sh -c "echo nope >&2; exit 4"',
        '    - name: Never reached',
        '      ansible.builtin.command: "true"',
        '',
      ].join('\n'),
    );
    const invDir = join(work, 'inv');
    await mkdir(invDir);
    const before = await kilnTempDirs();
    const r = await buildWithProvisioners(work, sshd, key.privateKeyFile, [
      { type: 'ansible', playbook_file: playbook, inventory_directory: invDir, host_alias: 'web1' },
    ]);
    expect(r.exitCode).toBe(1);
    const text = formatError(r.error);
    expect(text).toContain('provisioner 1 (ansible)');
    expect(text).toContain('Ansible task "Install the impossible" failed on host "web1"');
    expect(text).toContain('non-zero return code');
    expect(await readdir(invDir)).toEqual([]);
    expect(await kilnTempDirs()).toEqual(before);
    expect(await controlMasters()).toBe('');
  });

  it('runs every ssh of the playbook through the control master kiln opened beforehand', async () => {
    const playbook = join(work, 'mux.yml');
    await writeFile(
      playbook,
      '- hosts: all\n  gather_facts: false\n  tasks:\n    - name: Id\n      ansible.builtin.command: id -un\n',
    );
    const r = await buildWithProvisioners(work, sshd, key.privateKeyFile, [
      { type: 'ansible', playbook_file: playbook, extra_arguments: ['-vvvv'] },
    ]);
    expect(r.error).toBeUndefined();
    const out = r.lines.join('\n');
    // ssh -vvv of each session Ansible ran: it found a master; none had to become one.
    expect(out).toContain('mux_client_request_session');
    expect(out).not.toMatch(/Control socket .* does not exist/);
    expect(out).toMatch(/ControlPath=\S+\/cp\/%C/);
    expect(await controlMasters()).toBe('');
  });

  it('lets the user’s ansible.cfg win over kiln’s defaults', async () => {
    const playbook = join(work, 'cfg.yml');
    await writeFile(
      playbook,
      '- hosts: all\n  gather_facts: false\n  tasks:\n    - name: Copy\n      ansible.builtin.copy:\n        dest: /dev/null\n        content: x\n',
    );
    const remoteTmp = join(work, 'cfg-remote-tmp');
    const cfg = join(work, 'my-ansible.cfg');
    await writeFile(cfg, `[defaults]\nremote_tmp = ${remoteTmp}\n`);
    const r = await buildWithProvisioners(work, sshd, key.privateKeyFile, [
      { type: 'ansible', playbook_file: playbook, ansible_env_vars: [`ANSIBLE_CONFIG=${cfg}`] },
    ]);
    expect(r.error).toBeUndefined();
    // The sshd runs on this machine: the copy's temp dir was made under the file's remote_tmp.
    expect(existsSync(remoteTmp)).toBe(true);
  });

  it('rejects a missing playbook before connecting', async () => {
    const before = (sshd.log().match(/Accepted publickey/g) ?? []).length;
    const err = await buildWithProvisioners(work, sshd, key.privateKeyFile, [
      { type: 'ansible', playbook_file: join(work, 'nope.yml') },
    ]).catch((e) => e);
    expect(formatError(err)).toMatch(/playbook_file: .*nope\.yml is invalid/);
    expect((sshd.log().match(/Accepted publickey/g) ?? []).length).toBe(before);
  });
});

describe('ansible-local', () => {
  it('uploads the playbook, vars and roles to a staging directory and runs ansible-playbook on the machine', async () => {
    const src = join(work, 'local');
    await mkdir(join(src, 'group_vars'), { recursive: true });
    await mkdir(join(src, 'roles', 'greeter', 'tasks'), { recursive: true });
    await writeFile(join(src, 'group_vars', 'web.yml'), 'greeting: hello from group_vars\n');
    const out = join(work, 'local-out');
    await writeFile(
      join(src, 'roles', 'greeter', 'tasks', 'main.yml'),
      `- name: Greet\n  ansible.builtin.copy:\n    dest: ${out}\n    content: "{{ greeting }} {{ extra }}"\n`,
    );
    await writeFile(
      join(src, 'site.yml'),
      '- hosts: web\n  gather_facts: false\n  roles:\n    - greeter\n',
    );
    const staging = join(work, 'staging');
    const r = await buildWithProvisioners(work, sshd, key.privateKeyFile, [
      {
        type: 'ansible-local',
        playbook_file: join(src, 'site.yml'),
        group_vars: join(src, 'group_vars'),
        role_paths: [join(src, 'roles', 'greeter')],
        inventory_groups: ['web'],
        extra_arguments: ['-e', 'extra=yes'],
        staging_directory: staging,
        clean_staging_directory: true,
      },
    ]);
    expect(r.error).toBeUndefined();
    expect(await readFile(out, 'utf8')).toBe('hello from group_vars yes');
    expect(existsSync(staging)).toBe(false);
  });

  it('names the failed task', async () => {
    const pb = join(work, 'local-fail.yml');
    await writeFile(
      pb,
      '- hosts: all\n  gather_facts: false\n  tasks:\n    - name: Break here\n      ansible.builtin.fail:\n        msg: broken on purpose\n',
    );
    const r = await buildWithProvisioners(work, sshd, key.privateKeyFile, [
      { type: 'ansible-local', playbook_file: pb, clean_staging_directory: true },
    ]);
    expect(formatError(r.error)).toContain(
      'Ansible task "Break here" failed on host "127.0.0.1": broken on purpose',
    );
  });
});
