/**
 * Interrupts against the compiled CLI (run `npm run build` first): a SIGINT while a
 * `shell-local` script sleeps stops the script's whole process group, runs the cleanups
 * and exits non-zero with nothing left on disk or in the catalog; a second signal 200 ms
 * after the first exits at once with 130 and names what it left.
 */
import { type ChildProcess, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { kiln, ROOT, startKiln } from './helpers/kiln.js';

const scratch = mkdtempSync(join(tmpdir(), 'kiln-signals-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Running {
  child: ChildProcess;
  out: () => string;
  exited: Promise<number | null>;
}

function startBuild(dir: string, template: object, marker: string): Running {
  writeFileSync(join(dir, 'template.json'), JSON.stringify(template, null, 2));
  const k = startKiln(['build', '-machine-readable', 'template.json'], {
    cwd: dir,
    home: join(dir, 'home'),
    env: { NO_COLOR: '1', KILN_TEST_MARKER: marker },
  });
  return { child: k.child, out: k.output, exited: k.exit.then((r) => r.code) };
}

async function waitFor(check: () => boolean, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Processes whose command line holds `marker` (the script's unique sleep argument). */
function processesWith(marker: string): string[] {
  const r = spawnSync('ps', ['-eo', 'pid,args'], { encoding: 'utf8' });
  return r.stdout.split('\n').filter((l) => l.includes(marker) && !l.includes('ps -eo'));
}

async function catalogImages(home: string): Promise<unknown[]> {
  if (!existsSync(home)) return [];
  const { Catalog } = (await import(join(ROOT, 'dist/catalog/index.js'))) as {
    Catalog: { open(h: string): { images: { list(): unknown[] }; close(): void } };
  };
  const c = Catalog.open(home);
  try {
    return c.images.list();
  } finally {
    c.close();
  }
}

describe('kiln build and interrupts', () => {
  it('SIGINT during a shell-local sleep: cleanup runs, exit non-zero, nothing left', async () => {
    const dir = join(scratch, 'one');
    mkdirSync(dir);
    const marker = '41.4242';
    const run = startBuild(
      dir,
      {
        builders: [{ type: 'file', name: 'f', target: 'out/image.txt', content: 'data' }],
        provisioners: [{ type: 'shell-local', inline: ['echo sleeping', `sleep ${marker}`] }],
        'post-processors': [{ type: 'manifest' }],
      },
      marker,
    );
    await waitFor(
      () => run.out().includes('sleeping') && processesWith(marker).length > 0,
      'the script to sleep',
    );
    const script = /Running local shell script: (\S+)/.exec(run.out())?.[1];
    run.child.kill('SIGINT');
    const code = await run.exited;
    expect(code, run.out()).not.toBe(0);
    expect(code).not.toBe(130);
    expect(run.out()).toContain('Cancelling build after receiving interrupt');
    expect(run.out()).toContain('Cleanly cancelled builds after being interrupted.');
    await waitFor(() => processesWith(marker).length === 0, 'the sleep to be gone', 10_000);
    expect(script && existsSync(script)).toBe(false);
    expect(existsSync(join(dir, 'out/image.txt'))).toBe(false);
    expect(existsSync(join(dir, 'packer-manifest.json'))).toBe(false);
    expect(await catalogImages(join(dir, 'home'))).toEqual([]);
  });

  it('a second signal 200 ms later exits at once with 130 and names what it left', async () => {
    const dir = join(scratch, 'two');
    mkdirSync(dir);
    const marker = '42.4343';
    // The script ignores the first SIGTERM for a while, so the build is still stopping
    // when the second signal arrives.
    const run = startBuild(
      dir,
      {
        builders: [{ type: 'file', name: 'f', target: 'left.txt', content: 'data' }],
        provisioners: [
          {
            type: 'shell-local',
            inline: ["trap 'sleep 3; exit 1' TERM", 'echo sleeping', `sleep ${marker} & wait`],
          },
        ],
      },
      marker,
    );
    await waitFor(
      () => run.out().includes('sleeping') && processesWith(marker).length > 0,
      'the script to sleep',
    );
    run.child.kill('SIGINT');
    await new Promise((r) => setTimeout(r, 200));
    run.child.kill('SIGINT');
    const code = await run.exited;
    expect(code, run.out()).toBe(130);
    expect(run.out()).toContain('exiting now without finishing cleanup');
    expect(run.out()).toContain(`write-file (${join(dir, 'left.txt')})`);
    expect(run.out()).toContain('kiln gc');
    expect(readdirSync(dir)).toContain('left.txt');
    // The script's trap ends it a few seconds later; wait so nothing outlives the test.
    await waitFor(() => processesWith(marker).length === 0, 'the script to end', 20_000);
    // The run's journal names the file, so `kiln gc` removes it.
    const gc = await kiln(['gc'], { cwd: dir, home: join(dir, 'home') });
    expect(gc.code, gc.stderr).toBe(0);
    expect(existsSync(join(dir, 'left.txt'))).toBe(false);
  });
});
