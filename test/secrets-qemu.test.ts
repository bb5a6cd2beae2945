/**
 * RELIABILITY row 26 with a real qemu build: a sensitive variable holding quotes, `$`, a
 * newline and a PEM block reaches a shell provisioner (environment_vars) and an Ansible
 * extra var intact (the guest and the playbook check its sha256), and no form of it — raw,
 * shell-escaped, JSON-escaped, base64, line by line — appears in stdout, stderr,
 * `--output json`, the machine-readable stream, any catalog table, any command line seen
 * while the builds run, or the produced image (its overlay's bytes, deleted blocks
 * included). The image also holds no build key, authorized_keys entry, host key,
 * `~/.ansible` or shell history; the build's key file is 0600 in a 0700 directory.
 */
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/index.js';
import {
  dumpCatalog,
  homeWithBase,
  type KilnRun,
  kiln,
  leftovers,
  qemuPidsOf,
  startKiln,
  whatWasLeft,
} from './helpers/faults.js';

const tag = randomBytes(6).toString('hex');
const SECRET = [
  `it's a "quoted" $HOME \`id\` $(whoami) s3cr3t-${tag}`,
  `second line, with a comma ${tag}`,
  '-----BEGIN OPENSSH PRIVATE KEY-----',
  `b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW${tag}`,
  `QyNTUxOQAAACBq9vJ2rWcYq5S3Zl6xP8m0uEoXU1r7VjS8bW4Kx0yQAAAAJj1Z${tag}`,
  '-----END OPENSSH PRIVATE KEY-----',
].join('\n');
const SHA = createHash('sha256').update(SECRET).digest('hex');

/** Every form the secret must not take anywhere (as in RELIABILITY row 26). */
function forms(): Array<[string, string]> {
  const json = JSON.stringify(SECRET).slice(1, -1);
  const out: Array<[string, string]> = [
    ['raw', SECRET],
    ['JSON-escaped', json],
    ['JSON-escaped twice', JSON.stringify(json).slice(1, -1)],
    ['shell single-quoted', `'${SECRET.replace(/'/g, `'\\''`)}'`],
    ['shell double-quote escaped', SECRET.replace(/([\\"$`])/g, '\\$1')],
    ['\\n-escaped', SECRET.replace(/\n/g, '\\n')],
    ['base64', Buffer.from(SECRET).toString('base64').replace(/=+$/, '')],
    [
      'base64 of the JSON form',
      Buffer.from(JSON.stringify(SECRET)).toString('base64').slice(0, 40),
    ],
  ];
  // Packer's machine-readable stream writes commas as %!(PACKER_COMMA).
  const comma = (v: string) => v.replace(/,/g, '%!(PACKER_COMMA)');
  out.push(['machine-readable escaped', comma(SECRET).replace(/\n/g, '\\n')]);
  for (const [i, line] of SECRET.split('\n').entries()) {
    if (/^-----(BEGIN|END)/.test(line)) continue;
    out.push([`line ${i + 1}`, line]);
    if (line.includes(',')) out.push([`line ${i + 1}, machine-readable escaped`, comma(line)]);
  }
  // The lines' distinctive parts, in case a line is split or re-quoted.
  for (const line of SECRET.split('\n'))
    for (const m of line.matchAll(/[A-Za-z0-9+/]{20,}/g)) out.push(['key body fragment', m[0]]);
  out.push(['marker', `s3cr3t-${tag}`]);
  return out;
}

/** The forms found in `text` (empty when none). */
function found(where: string, text: string | Buffer): string[] {
  const hay = typeof text === 'string' ? Buffer.from(text) : text;
  return forms()
    .filter(([, f]) => hay.includes(Buffer.from(f)))
    .map(([name]) => `${name} in ${where}`);
}

let dir: string;
let home: string;
const seenOnCommandLines: string[] = [];
let samples = 0;
/** Positive control: the sampler did see the build's processes. */
const sampled = new Set<string>();
const keyModes: string[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kiln-secrets-'));
  home = (await homeWithBase(join(dir, 'home'))).home;
});

afterAll(async () => {
  await kiln(home, ['gc']);
  for (const pid of qemuPidsOf(home)) process.kill(pid, 'SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

function writeTemplate(): string {
  writeFileSync(
    join(dir, 'play.yml'),
    [
      '- name: secret check',
      '  hosts: all',
      '  gather_facts: false',
      '  tasks:',
      '    - name: the extra var arrived intact',
      '      ansible.builtin.assert:',
      "        that: (secret_value | hash('sha256')) == expected_sha",
      '        quiet: true',
      '    - name: print it (kiln must redact it)',
      '      ansible.builtin.debug:',
      '        var: secret_value',
      // On stdin, inside the module's arguments: Ansible's `environment:` keyword would put
      // it on the ssh command line (Ansible's doing, which kiln cannot prevent).
      '    - name: use it on the machine',
      '      ansible.builtin.command:',
      '        argv: [sha256sum]',
      '        stdin: "{{ secret_value }}"',
      '        stdin_add_newline: false',
      '      register: remote',
      '    - name: the machine saw it intact',
      '      ansible.builtin.assert:',
      "        that: remote.stdout.split(' ')[0] == expected_sha",
      '',
    ].join('\n'),
  );
  // The user keeps the value (and its JSON-escaped twin for -e '{…}') in a var file: a -var
  // would put it on kiln's own command line.
  const varFile = join(dir, 'secret.json');
  writeFileSync(varFile, JSON.stringify({ secret: SECRET, secret_json: JSON.stringify(SECRET) }), {
    mode: 0o600,
  });
  const tpl = {
    variables: { secret: '', secret_json: '' },
    'sensitive-variables': ['secret', 'secret_json'],
    builders: [
      {
        type: 'qemu',
        source_image: 'debian-12',
        ssh_username: 'root',
        vm_name: 'kiln-secrets-test',
        memory: 1024,
        cpus: 2,
      },
    ],
    provisioners: [
      {
        type: 'shell',
        environment_vars: ['KILN_SECRET={{user `secret`}}'],
        inline: [
          'printf %s "$KILN_SECRET" | sha256sum | cut -c1-64 | sed s/^/secret-sha=/',
          `echo kiln-canary-${tag} > /etc/kiln-canary && sync`,
          'echo "$KILN_SECRET"',
          'set -x; test -n "$KILN_SECRET"',
        ],
      },
      {
        type: 'ansible',
        playbook_file: join(dir, 'play.yml'),
        user: 'root',
        use_proxy: false,
        extra_arguments: [
          '--extra-vars',
          `expected_sha=${SHA} ansible_python_interpreter=/usr/bin/python3`,
          '--extra-vars',
          '{"secret_value": {{user `secret_json`}}}',
        ],
      },
    ],
  };
  const file = join(dir, 'secret-build.json');
  writeFileSync(file, JSON.stringify(tpl, null, 2));
  return file;
}

/** Samples every process's command line, and the modes of the build's key files, while `k` runs. */
function watch(k: KilnRun): () => void {
  const timer = setInterval(() => {
    samples++;
    for (const d of readdirSync('/proc')) {
      if (!/^\d+$/.test(d)) continue;
      try {
        const cmd = readFileSync(`/proc/${d}/cmdline`);
        for (const p of ['qemu-system', 'ansible-playbook', 'ssh\0'])
          if (cmd.includes(p)) sampled.add(p.replace('\0', ''));
        for (const f of found(
          `/proc/${d}/cmdline (${cmd.toString().replace(/\0/g, ' ').slice(0, 120)})`,
          cmd,
        ))
          seenOnCommandLines.push(f);
      } catch {
        // Gone meanwhile.
      }
    }
    try {
      for (const e of readdirSync(k.tmp)) {
        if (!e.startsWith('kiln-ssh-')) continue;
        const keyDir = join(k.tmp, e);
        const key = join(keyDir, 'id_ed25519');
        if (!existsSync(key)) continue;
        keyModes.push(
          `${(statSync(keyDir).mode & 0o777).toString(8)} ${(statSync(key).mode & 0o777).toString(8)}`,
        );
      }
    } catch {
      // Removed meanwhile.
    }
  }, 150);
  return () => clearInterval(timer);
}

describe('secrets', () => {
  it('row 26: a sensitive value with quotes, $, a newline and a PEM block leaks nowhere', async () => {
    const file = writeTemplate();
    const before = leftovers(home);
    const findings: string[] = [];

    // Build 1: -machine-readable.
    const k1 = startKiln(
      home,
      ['build', '--no-cache', '-machine-readable', '-var-file', join(dir, 'secret.json'), file],
      {
        cwd: dir,
      },
    );
    const stop1 = watch(k1);
    const e1 = await k1.exit;
    stop1();
    expect(e1.code, k1.output()).toBe(0);
    // It arrived intact (the guest's sha256 of it), and the playbook's asserts passed.
    expect(k1.stdout()).toContain(`secret-sha=${SHA}`);
    expect(k1.stdout()).toMatch(/<sensitive>/);
    findings.push(...found('build 1 stdout (machine-readable)', k1.stdout()));
    findings.push(...found('build 1 stderr', k1.stderr()));
    const id = /,artifact,0,id,(img-[0-9a-f]+)/.exec(k1.stdout())![1]!;

    // Build 2: --output json (no cache: the provisioners run again).
    const k2 = startKiln(
      home,
      ['build', '--no-cache', '--output', 'json', '-var-file', join(dir, 'secret.json'), file],
      {
        cwd: dir,
      },
    );
    const stop2 = watch(k2);
    const e2 = await k2.exit;
    stop2();
    expect(e2.code, k2.output()).toBe(0);
    for (const line of k2.stdout().trim().split('\n'))
      expect(() => JSON.parse(line), line).not.toThrow();
    expect(k2.stdout()).toContain(SHA);
    findings.push(...found('build 2 stdout (--output json)', k2.stdout()));
    findings.push(...found('build 2 stderr', k2.stderr()));

    // No command line ever held it; the key was 0600 in a 0700 directory.
    expect([...sampled].sort()).toEqual(['ansible-playbook', 'qemu-system', 'ssh']);
    findings.push(...seenOnCommandLines);
    expect(keyModes.length).toBeGreaterThan(0);
    expect([...new Set(keyModes)]).toEqual(['700 600']);

    // The catalog: every table, every row.
    findings.push(...found('the catalog', JSON.stringify(dumpCatalog(home))));
    findings.push(...found('catalog.db bytes', readFileSync(join(home, 'catalog.db'))));

    // The image: the overlay's bytes (everything the build wrote, deleted blocks included).
    const catalog = Catalog.open(home);
    const image = catalog.images.get(id)!;
    catalog.close();
    const disk = image.files[0]!;
    // Files: the home, the images dir and the image's dir are 0700; the disk is read-only.
    const mode = (p: string) => (statSync(p).mode & 0o777).toString(8);
    expect([home, join(home, 'images'), dirname(disk), disk].map(mode)).toEqual([
      '700',
      '700',
      '700',
      '444',
    ]);
    expect(dirname(disk)).toBe(join(home, 'images', id));
    const bytes = readFileSync(disk);
    // Positive control: what the provisioner wrote is in these bytes, so a leak would be too.
    expect(bytes.includes(Buffer.from(`kiln-canary-${tag}`))).toBe(true);
    findings.push(...found(`the image's disk ${disk}`, bytes));

    // And its files, read without booting: nothing of the build's access remains.
    const raw = join(dir, 'image.raw');
    expect(spawnSync('qemu-img', ['convert', '-O', 'raw', disk, raw]).status).toBe(0);
    const ls = (p: string) => spawnSync('debugfs', ['-R', `ls -l ${p}`, raw], { encoding: 'utf8' });
    const cat = (p: string) => spawnSync('debugfs', ['-R', `cat ${p}`, raw], { encoding: 'utf8' });
    const absent = (p: string) =>
      /File not found/.test(cat(p).stderr) && /File not found/.test(ls(p).stderr);
    for (const p of [
      '/root/.ssh/authorized_keys',
      '/root/.bash_history',
      '/root/.ansible',
      '/root/.python_history',
      '/etc/ssh/ssh_host_ed25519_key',
      '/etc/ssh/ssh_host_rsa_key',
      '/etc/ssh/ssh_host_ecdsa_key',
    ])
      expect(absent(p), `${p} is in the image`).toBe(true);
    const tmpListing = ls('/tmp').stdout + ls('/var/tmp').stdout;
    expect(tmpListing).not.toMatch(/script|packer|ansible|extra-vars/);
    rmSync(raw, { force: true });

    console.info(
      `row 26: ${forms().length} forms searched in stdout and stderr of both builds, --output json, the machine-readable stream, ${samples} samples of every /proc/*/cmdline, every catalog table and catalog.db's bytes, the image's ${bytes.length} overlay bytes and its files; found: ${new Set(findings).size}`,
    );
    expect([...new Set(findings)]).toEqual([]);

    // Both builds' temporaries are gone; only the two images are new.
    const after = leftovers(home, [k1.tmp, k2.tmp]);
    const left = whatWasLeft(before, after).filter((l) => !l.startsWith('catalog changed'));
    expect(left).toEqual([]);
    expect(after.catalog.images!.length).toBe(before.catalog.images!.length + 2);
  });
});
