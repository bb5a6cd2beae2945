/**
 * Side by side with the real Packer 1.6.6: every template in test/corpus/build/ is built
 * by `packer build -machine-readable` and by `kiln build -machine-readable` (compiled: run
 * `npm run build` first), each in a fresh copy of its folder, and the two streams are
 * compared line by line once timestamps, durations, temporary paths and run UUIDs are
 * blanked and the summary blocks (whose order is random in Packer) are sorted. Files a
 * case names (manifests, checksums) are compared too. Every remaining difference is in
 * docs/packer-differences.md.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run as runCommand, kiln as runKiln } from './helpers/kiln.js';

const ROOT = resolve(import.meta.dirname, '..');
const CORPUS = join(ROOT, 'test/corpus/build');

interface Case {
  args: string[];
  exit: number;
  files?: string[];
  /** Files written into the work folder before the run (e.g. an earlier manifest). */
  setup?: Record<string, string>;
}

interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
  dir: string;
}

const scratch = mkdtempSync(join(tmpdir(), 'kiln-build-diff-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function readCase(name: string): Case {
  const p = join(CORPUS, name, 'case.json');
  const c = existsSync(p) ? (JSON.parse(readFileSync(p, 'utf8')) as Partial<Case>) : {};
  return { args: c.args ?? [], exit: c.exit ?? 0, files: c.files, setup: c.setup };
}

function prepareDir(name: string, who: string, c: Case): string {
  const dir = join(scratch, `${name}-${who}`);
  cpSync(join(CORPUS, name), dir, { recursive: true });
  rmSync(join(dir, 'case.json'), { force: true });
  for (const [file, text] of Object.entries(c.setup ?? {})) writeFileSync(join(dir, file), text);
  return dir;
}

/** `packer|kiln build -machine-readable …` in a fresh copy of the case's folder. */
async function buildWith(
  who: 'packer' | 'kiln',
  dir: string,
  args: string[],
  env: Record<string, string>,
): Promise<RunResult> {
  const argv = ['build', '-machine-readable', ...args, 'template.json'];
  const opts = { cwd: dir, env, timeoutMs: 120_000 };
  const r = who === 'packer' ? await runCommand('packer', argv, opts) : await runKiln(argv, opts);
  return { code: r.code ?? -1, stdout: r.stdout, stderr: r.stderr, dir };
}

function runTool(who: 'packer' | 'kiln', name: string, c: Case): Promise<RunResult> {
  const dir = prepareDir(name, who, c);
  return buildWith(who, dir, c.args, {
    CHECKPOINT_DISABLE: '1',
    PACKER_CACHE_DIR: join(dir, '.packer_cache'),
    KILN_HOME: join(dir, '.kiln'),
    NO_COLOR: '1',
  });
}

const DURATION =
  /\d+ (?:years?|weeks?|days?|hours?|minutes?|seconds?|milliseconds?|microseconds?)(?: \d+ (?:years?|weeks?|days?|hours?|minutes?|seconds?|milliseconds?|microseconds?))?/g;
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;

/** Blanks what differs between any two runs (time, temp paths, run ids). */
function normalizeLine(line: string, dir: string): string {
  return line
    .replace(/^\d+,/, '')
    .replaceAll(dir, '<DIR>')
    .replace(/\/tmp\/packer-shell\d+/g, '<SCRIPT>')
    .replace(DURATION, '<DURATION>')
    .replace(UUID, '<UUID>');
}

/**
 * Packer prints the error and artifact summaries by iterating Go maps, so builds come out
 * in random order: sort each summary's per-build groups by build name.
 */
function sortSummaries(lines: string[]): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i]!;
    const m = /^([^,]+),(artifact-count|error),/.exec(line);
    if (!m) {
      out.push(line);
      i++;
      continue;
    }
    const groups: Array<{ key: string; lines: string[] }> = [];
    while (i < lines.length) {
      const g = /^([^,]+),(artifact-count|error),/.exec(lines[i]!);
      if (!g) break;
      const group = { key: g[1]!, lines: [lines[i]!] };
      i++;
      if (g[2] === 'error') {
        if (i < lines.length && lines[i]!.startsWith(',ui,error,--> '))
          group.lines.push(lines[i++]!);
      } else {
        while (
          i < lines.length &&
          (lines[i]!.startsWith(`${g[1]},artifact,`) ||
            lines[i]!.startsWith(`,ui,say,--> ${g[1]}:`))
        ) {
          group.lines.push(lines[i++]!);
        }
      }
      groups.push(group);
    }
    groups.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    for (const g of groups) out.push(...g.lines);
  }
  return out;
}

/**
 * Packer prints "Cancelling provisioner after a timeout..." from a goroutine, so it races
 * with the next line; kiln prints it when the timeout fires. Put it first in both.
 */
function orderTimeoutRace(lines: string[]): string[] {
  const out = [...lines];
  for (let i = 0; i + 1 < out.length; i++) {
    if (
      out[i]!.includes('Provisioning step had errors') &&
      out[i + 1]!.endsWith('Cancelling provisioner after a timeout...')
    ) {
      [out[i], out[i + 1]] = [out[i + 1]!, out[i]!];
    }
  }
  return out;
}

function normalizedStream(r: RunResult): string[] {
  const lines = r.stdout.split('\n').filter((l) => l !== '');
  return orderTimeoutRace(sortSummaries(lines.map((l) => normalizeLine(l, r.dir))));
}

function normalizedFile(r: RunResult, file: string): string {
  const p = join(r.dir, file);
  if (!existsSync(p)) return '<missing>';
  return readFileSync(p, 'utf8')
    .replace(/"build_time": \d+/g, '"build_time": <T>')
    .replace(UUID, '<UUID>');
}

/** The artifact id a CI script would extract: `grep ',artifact,0,id,' | cut -d, -f6`. */
function ciArtifactId(stdout: string): string {
  const ids = execFileSync('sh', ['-c', "grep ',artifact,0,id,' | cut -d, -f6"], {
    input: stdout,
    encoding: 'utf8',
  });
  // With several builds Packer prints their artifacts in Go map order (random): compare as a set.
  return ids.split('\n').filter(Boolean).sort().join('\n');
}

const packerPresent = spawnSync('packer', ['version'], { encoding: 'utf8' }).status === 0;
const kilnBuilt = existsSync(join(ROOT, 'dist/cli/main.js'));
const cases = readdirSync(CORPUS).filter((n) => existsSync(join(CORPUS, n, 'template.json')));

describe('kiln build -machine-readable matches packer 1.6.6', () => {
  it('has the tools it compares (packer 1.6.6 and a compiled kiln)', () => {
    expect(packerPresent, 'packer is not installed (apt-get install packer)').toBe(true);
    expect(kilnBuilt, 'dist/ is missing: run `npm run build` first').toBe(true);
    expect(cases.length).toBeGreaterThanOrEqual(10);
  });

  for (const name of cases) {
    it(name, async () => {
      const c = readCase(name);
      const packer = await runTool('packer', name, c);
      const kiln = await runTool('kiln', name, c);
      expect(packer.code, `packer exit code\n${packer.stdout}\n${packer.stderr}`).toBe(c.exit);
      expect(kiln.code, `kiln exit code\n${kiln.stdout}\n${kiln.stderr}`).toBe(c.exit);
      expect(normalizedStream(kiln)).toEqual(normalizedStream(packer));
      expect(ciArtifactId(kiln.stdout)).toBe(ciArtifactId(packer.stdout));
      for (const file of c.files ?? []) {
        expect(normalizedFile(kiln, file), `${file} (kiln vs packer)`).toBe(
          normalizedFile(packer, file),
        );
      }
      // Nothing half-made in the work folder: the same set of files as Packer left.
      const listing = (dir: string) =>
        readdirSync(dir, { recursive: true })
          .map(String)
          .filter(
            (f) =>
              !f.startsWith('.kiln') && !f.startsWith('.packer_cache') && dirname(f) !== '.kiln',
          )
          .sort();
      expect(listing(kiln.dir)).toEqual(listing(packer.dir));
    });
  }
});

/** A free loopback TCP port. */
function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() =>
        typeof addr === 'object' && addr ? res(addr.port) : rej(new Error('no port')),
      );
    });
  });
}

describe('null builder over SSH matches packer 1.6.6', () => {
  it('connects to a local sshd, exposes {{build `Host`}}/{{build `Port`}} and prints the same stream', async () => {
    expect(existsSync('/usr/sbin/sshd'), 'sshd is needed (apt-get install openssh-server)').toBe(
      true,
    );
    const dir = mkdtempSync(join(scratch, 'sshd-'));
    for (const k of ['hostkey', 'userkey']) {
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, k)]);
    }
    const port = await freePort();
    writeFileSync(
      join(dir, 'sshd_config'),
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${join(dir, 'hostkey')}`,
        `AuthorizedKeysFile ${join(dir, 'userkey.pub')}`,
        `PidFile ${join(dir, 'sshd.pid')}`,
        'StrictModes no',
        'UsePAM no',
        '',
      ].join('\n'),
    );
    // sshd refuses to start without its privilege-separation directory, which only a boot
    // (tmpfiles) or another suite's sshd helper would have made.
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    const sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], {
      stdio: 'ignore',
    });
    try {
      const user = execFileSync('id', ['-un'], { encoding: 'utf8' }).trim();
      const template = {
        builders: [
          {
            type: 'null',
            ssh_host: '127.0.0.1',
            ssh_port: port,
            ssh_username: user,
            ssh_private_key_file: join(dir, 'userkey'),
            ssh_timeout: '30s',
          },
        ],
        provisioners: [
          { type: 'shell-local', inline: ['echo host={{build `Host`}} port={{build `Port`}}'] },
        ],
      };
      const name = 'ssh-case';
      const caseDir = join(scratch, 'corpus-ssh', name);
      cpSync(dir, caseDir, { recursive: true });
      writeFileSync(join(caseDir, 'template.json'), JSON.stringify(template));
      const run = (who: 'packer' | 'kiln'): Promise<RunResult> => {
        const wd = join(scratch, `${name}-${who}`);
        cpSync(caseDir, wd, { recursive: true });
        return buildWith(who, wd, [], { CHECKPOINT_DISABLE: '1', KILN_HOME: join(wd, '.kiln') });
      };
      const packer = await run('packer');
      const kiln = await run('kiln');
      expect(packer.code, packer.stdout + packer.stderr).toBe(0);
      expect(kiln.code, kiln.stdout + kiln.stderr).toBe(0);
      expect(normalizedStream(kiln)).toEqual(normalizedStream(packer));
      expect(kiln.stdout).toContain(`host=127.0.0.1 port=${port}`);
    } finally {
      sshd.kill('SIGTERM');
    }
  });
});
