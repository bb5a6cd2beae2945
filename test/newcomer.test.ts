/**
 * Issue 16, the newcomer path: a fresh `git clone` of this repository, then the README's
 * quick start as written — its shell block read from README.md and run line by line with
 * bash — reaches a serving instance, and `kiln ssh` into it says `active` for hello-web.
 * `kiln` comes from `npm link` into a temporary npm prefix on the PATH.
 *
 * What differs from a fresh machine, and only that:
 * - `git clone <this repository>` clones this checkout (its committed HEAD);
 * - `./scripts/setup.sh` is replaced by its npm half with the packages this checkout
 *   already has (`node_modules` linked, then `npm run build`): the apt packages are
 *   installed on the test machine, and `npm ci` would rebuild the native SQLite module;
 * - the host port 8080 becomes a free one (other tests and instances share this machine);
 * - KILN_HOME is the test home, so `kiln base debian-12` reuses the tests' base image.
 * One VM test; the builds hit the cache when an earlier run built the same inputs.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from './helpers/kiln.js';
import { freePort } from './helpers/sshd.js';
import { ensureBase, HOME, ROOT } from './qemu-helpers.js';

const work = mkdtempSync(join(tmpdir(), 'kiln-newcomer-'));
const prefix = join(work, 'npm-prefix');

afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The commands of the README's "Quick start" block, continuation lines joined. */
function quickStart(readme: string): string[] {
  const section = readme.split(/^## Quick start$/m)[1]?.split(/^## /m)[0];
  const block = section ? /```sh\n([\s\S]*?)```/.exec(section)?.[1] : undefined;
  if (!block) throw new Error('README.md has no "## Quick start" section with a sh block');
  return block
    .replace(/\\\n\s*/g, '')
    .split('\n')
    .filter((l) => l.trim() !== '');
}

describe('the README quick start from a clean clone', () => {
  it('reaches a serving instance, and kiln ssh runs systemctl is-active hello-web → active', async () => {
    await ensureBase();
    const port = await freePort();
    const lines = quickStart(readFileSync(join(ROOT, 'README.md'), 'utf8'));
    const script = lines.map((line) => {
      if (/^git clone /.test(line)) return `git clone -q ${ROOT} kiln && cd kiln`;
      if (/^\.\/scripts\/setup\.sh/.test(line))
        return `ln -s ${join(ROOT, 'node_modules')} node_modules && npm run build >&2`;
      return line
        .replace(/8080:8080/g, `${port}:8080`)
        .replace(/127\.0\.0\.1:8080/g, `127.0.0.1:${port}`);
    });
    // What the README says each line shows, checked in the script's output below.
    expect(lines.join('\n')).toContain('kiln ssh $ID -- systemctl is-active hello-web');
    // The test's own line: an instance the quick start started is stopped even if a later line fails.
    const stop = `trap '[ -z "\${ID:-}" ] || kiln stop "$ID" >/dev/null 2>&1 || true' EXIT`;
    const r = await run('bash', ['-euo', 'pipefail', '-xc', [stop, ...script].join('\n')], {
      cwd: work,
      env: {
        KILN_HOME: HOME,
        npm_config_prefix: prefix,
        PATH: `${join(prefix, 'bin')}:${process.env.PATH}`,
      },
      timeoutMs: 1_500_000,
    });
    expect(r.code, r.output.slice(-6000)).toBe(0);
    expect(r.stdout).toContain('Hello world on port 8080');
    expect(r.stdout.split('\n')).toContain('active');
    // The kiln that ran is the linked clone's.
    const which = await run('bash', ['-c', 'readlink -f "$(command -v kiln)"'], {
      env: { PATH: `${join(prefix, 'bin')}:${process.env.PATH}` },
    });
    expect(which.stdout.trim()).toBe(join(work, 'kiln', 'bin', 'kiln.js'));
  }, 1_800_000);
});
