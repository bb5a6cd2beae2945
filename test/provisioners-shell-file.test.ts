/**
 * The shell and file provisioners, end to end: template → null builder over SSH → a real
 * OpenSSH server on 127.0.0.1 (the "machine" is this host, so the test can look at what
 * the provisioners left).
 */
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyDir, type KeyDir } from '../src/communicator/keys.js';
import { formatError, KilnError } from '../src/lib/errors.js';
import { buildWithProvisioners } from './helpers/null-ssh-build.js';
import { startSshd, type TestSshd } from './helpers/sshd.js';

let sshd: TestSshd;
let key: KeyDir;
let work: string;

// Quotes, `$`, a newline and a PEM-looking block: RELIABILITY case 26.
const SECRET = `s3cr'et "$HOME" \`x\`\n-----BEGIN KEY-----\nQUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVo=\n-----END KEY-----`;

beforeAll(async () => {
  key = await createKeyDir(undefined, 'run-provtest');
  sshd = await startSshd({ authorizedKeys: [key.publicKey] });
  work = await mkdtemp(join(tmpdir(), 'kiln-prov-test-'));
});

afterAll(async () => {
  await sshd?.stop();
  await key?.dispose();
  if (work) await rm(work, { recursive: true, force: true });
});

function secretIn(lines: string[]): boolean {
  const all = lines.join('\n');
  return (
    all.includes(SECRET) ||
    SECRET.split('\n').some((l) => l.length > 8 && !l.startsWith('-----') && all.includes(l)) ||
    all.includes("s3cr'et")
  );
}

describe('shell', () => {
  it('runs inline lines, streams their output, passes environment values without printing or exposing them', async () => {
    const remote = join(work, 'inline-script.sh');
    const r = await buildWithProvisioners(
      work,
      sshd,
      key.privateKeyFile,
      [
        {
          type: 'shell',
          remote_path: remote,
          // `; exit $?` keeps the shell that runs the command alive (no exec of the last
          // command), so its command line is still there to be looked at.
          execute_command: 'chmod +x {{.Path}}; {{.Vars}} {{.Path}}; exit $?',
          environment_vars: ['TOKEN={{user `token`}}', 'PLAIN=hello world'],
          inline: [
            'echo "plain=$PLAIN build=$PACKER_BUILD_NAME type=$PACKER_BUILDER_TYPE"',
            `expected=$(printf '%s' '${SECRET.replace(/'/g, `'"'"'`)}')`,
            '[ "$TOKEN" = "$expected" ] && echo token-ok || echo token-wrong',
            // What the machine's process table shows for us and every ancestor.
            `l=$(cat ${join(sshd.dir, 'sshd.pid')}); p=$$; while [ "$p" != "$l" ]; do printf 'cmdline: %s\\n' "$(tr "\\0" " " < /proc/$p/cmdline)"; p=$(ps -o ppid= -p $p | tr -d " "); done`,
            'echo to-stderr >&2',
          ],
        },
      ],
      { variables: { token: SECRET }, sensitive: ['token'] },
    );
    expect(r.error).toBeUndefined();
    expect(r.lines).toContain('plain=hello world build=null type=null');
    expect(r.lines).toContain('token-ok');
    expect(r.lines).toContain('to-stderr');
    expect(r.lines.some((l) => l.includes('Provisioning with shell script:'))).toBe(true);
    const cmdlines = r.lines.filter((l) => l.startsWith('cmdline: '));
    expect(cmdlines.some((l) => l.includes(`; exit $?`))).toBe(true);
    expect(secretIn(r.lines)).toBe(false);
    // The uploaded copy (which held the values) is gone.
    expect(existsSync(remote)).toBe(false);
  });

  it('keeps values out of xtrace output of a bash -x script', async () => {
    const script = join(work, 'traced.sh');
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion, not a JS template
    await writeFile(script, '#!/bin/bash -x\necho "len=${#TOKEN}"\n');
    const r = await buildWithProvisioners(
      work,
      sshd,
      key.privateKeyFile,
      [{ type: 'shell', script, environment_vars: ['TOKEN={{user `token`}}'] }],
      {
        variables: { token: SECRET },
        sensitive: ['token'],
      },
    );
    expect(r.error).toBeUndefined();
    expect(r.lines).toContain(`len=${SECRET.length}`);
    expect(r.lines.some((l) => l.startsWith('+ echo'))).toBe(true);
    expect(secretIn(r.lines)).toBe(false);
  });

  it('gives a script for another interpreter its variables through {{.Vars}}', async () => {
    const script = join(work, 'py.py');
    await writeFile(
      script,
      '#!/usr/bin/env python3\nimport os\nprint("greeting=" + os.environ["GREETING"])\n',
    );
    const r = await buildWithProvisioners(work, sshd, key.privateKeyFile, [
      { type: 'shell', script, environment_vars: ["GREETING=it's me"] },
    ]);
    expect(r.error).toBeUndefined();
    expect(r.lines).toContain("greeting=it's me");
  });

  it('fails naming the provisioner and the exit status when a script exits 3', async () => {
    const r = await buildWithProvisioners(work, sshd, key.privateKeyFile, [
      { type: 'shell', inline: ['echo before'] },
      { type: 'shell', inline: ['echo about to fail', 'exit 3'] },
    ]);
    expect(r.exitCode).toBe(1);
    const text = formatError(r.error);
    expect(text).toContain('provisioner 2 (shell)');
    expect(text).toContain('exit status: 3');
    expect(r.lines).toContain('about to fail');
  });

  it('accepts an exit status listed in valid_exit_codes, and uses a custom execute_command', async () => {
    const r = await buildWithProvisioners(work, sshd, key.privateKeyFile, [
      { type: 'shell', inline: ['exit 3'], valid_exit_codes: [0, 3] },
      {
        type: 'shell',
        inline: ['echo "arg=$1"'],
        execute_command: 'chmod +x {{ .Path }}; {{ .Vars }} sh -eu {{ .Path }} custom',
      },
    ]);
    expect(r.error).toBeUndefined();
    expect(r.lines).toContain('arg=custom');
  });

  it('treats a dropped connection as failure unless expect_disconnect, then reconnects for the next provisioner', async () => {
    // Killing the session's sshd process drops the connection, as a reboot would.
    // (The session's process is the listener's child, found by walking up from the script.)
    const listener = join(sshd.dir, 'sshd.pid');
    const drop = `l=$(cat ${listener}); p=$$; while :; do pp=$(ps -o ppid= -p $p | tr -d ' '); [ "$pp" = "$l" ] && break; p=$pp; done; kill -9 $p; sleep 5`;
    const bad = await buildWithProvisioners(work, sshd, key.privateKeyFile, [
      { type: 'shell', inline: [drop] },
    ]);
    expect(formatError(bad.error)).toMatch(/Script disconnected unexpectedly/);

    const good = await buildWithProvisioners(work, sshd, key.privateKeyFile, [
      { type: 'shell', inline: [drop], expect_disconnect: true, skip_clean: true },
      { type: 'shell', inline: ['echo after-reconnect'] },
    ]);
    expect(good.error).toBeUndefined();
    expect(good.lines).toContain('after-reconnect');
  });

  it('puts the values in an uploaded file with use_env_var_file and removes it', async () => {
    const folder = join(work, 'envfile');
    await mkdir(folder);
    const r = await buildWithProvisioners(work, sshd, key.privateKeyFile, [
      {
        type: 'shell',
        remote_folder: folder,
        use_env_var_file: true,
        environment_vars: ['A=b c'],
        inline: ['echo "a=$A"'],
      },
    ]);
    expect(r.error).toBeUndefined();
    expect(r.lines).toContain('a=b c');
    expect(await readdir(folder)).toEqual([]);
  });
});

describe('file', () => {
  it('uploads files, directories (trailing-slash rule) and content, and downloads', async () => {
    const src = join(work, 'src');
    await mkdir(join(src, 'tree', 'sub'), { recursive: true });
    await writeFile(join(src, 'one.txt'), 'one');
    await chmod(join(src, 'one.txt'), 0o640);
    await writeFile(join(src, 'tree', 'sub', 'deep.txt'), 'deep');
    const dst = join(work, 'dst');
    await mkdir(dst);
    const down = join(work, 'down');
    const r = await buildWithProvisioners(work, sshd, key.privateKeyFile, [
      { type: 'file', source: join(src, 'one.txt'), destination: `${dst}/` },
      { type: 'file', source: join(src, 'tree'), destination: join(dst, 'a') },
      { type: 'file', source: `${join(src, 'tree')}/`, destination: join(dst, 'b') },
      { type: 'file', content: 'from content', destination: join(dst, 'content.txt') },
      {
        type: 'file',
        direction: 'download',
        source: join(dst, 'content.txt'),
        destination: `${down}/`,
      },
    ]);
    expect(r.error).toBeUndefined();
    expect(await readFile(join(dst, 'one.txt'), 'utf8')).toBe('one');
    expect(await readFile(join(dst, 'a', 'tree', 'sub', 'deep.txt'), 'utf8')).toBe('deep');
    expect(await readFile(join(dst, 'b', 'sub', 'deep.txt'), 'utf8')).toBe('deep');
    expect(await readFile(join(dst, 'content.txt'), 'utf8')).toBe('from content');
    expect(await readFile(join(down, 'content.txt'), 'utf8')).toBe('from content');
    expect(r.lines).toContain(`Uploading ${join(src, 'one.txt')} => ${dst}/`);
  });

  it('rejects a missing source before connecting to anything', async () => {
    const before = (sshd.log().match(/Accepted publickey/g) ?? []).length;
    const err = await buildWithProvisioners(work, sshd, key.privateKeyFile, [
      { type: 'file', source: join(work, 'does-not-exist.txt'), destination: '/tmp/x' },
    ]).catch((e) => e);
    expect(err).toBeInstanceOf(KilnError);
    expect(formatError(err)).toMatch(/Bad source '.*does-not-exist\.txt'/);
    expect((sshd.log().match(/Accepted publickey/g) ?? []).length).toBe(before);
  });
});
