/**
 * The Debian tree, made by mmdebstrap from this machine's own apt sources (and its
 * Acquire options: validity checks, proxies) in `<work>/rootfs`. It lives inside the work
 * directory, so create-work-dir's cleanup removes a half-made tree with it.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BuildUi } from '../../core/events.js';
import type { Step } from '../../core/steps.js';
import { SystemError } from '../../lib/errors.js';
import { run } from '../../lib/exec.js';
import { BASE_PACKAGES, DPKG_EXCLUDES } from '../recipe.js';
import type { BaseState } from '../state.js';

export const createTree: Step<BaseState> = {
  name: 'create-tree',
  async run(state, { ui, signal }) {
    ui.say(`Creating the ${state.suite} tree with mmdebstrap (from this machine's apt sources)…`);
    await mmdebstrap(state.suite, state.rootfs, ui, signal);
  },
};

/** This machine's apt source files that name `suite`, and its Acquire options (validity checks, proxies). */
export async function hostAptConfig(
  suite: string,
): Promise<{ sources: string[]; aptOptions: string[] }> {
  const sources: string[] = [];
  const candidates = ['/etc/apt/sources.list'];
  for (const f of await readdir('/etc/apt/sources.list.d').catch(() => [] as string[])) {
    if (f.endsWith('.list') || f.endsWith('.sources'))
      candidates.push(join('/etc/apt/sources.list.d', f));
  }
  for (const f of candidates) {
    const text = await readFile(f, 'utf8').catch(() => '');
    const active = text
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.trim().startsWith('#'))
      .join('\n');
    if (new RegExp(`\\b${suite}\\b`).test(active)) sources.push(f);
  }
  const aptOptions: string[] = [];
  const dump = await run('apt-config', ['dump', 'Acquire'], { reject: false }).catch(
    () => undefined,
  );
  for (const line of dump?.stdout.split('\n') ?? []) {
    const m =
      /^(Acquire::(?:Check-Valid-Until|Check-Date|https?::Proxy(?:::[^ ]+)?)) "(.*)";$/.exec(
        line.trim(),
      );
    if (m) aptOptions.push(`${m[1]} "${m[2]}"`);
  }
  return { sources, aptOptions };
}

async function mmdebstrap(
  suite: string,
  target: string,
  ui: BuildUi,
  signal: AbortSignal,
): Promise<void> {
  const { sources, aptOptions } = await hostAptConfig(suite);
  if (sources.length === 0)
    ui.message(`no apt source on this machine names ${suite}: using mmdebstrap's default mirror`);
  else ui.message(`apt sources: ${sources.join(', ')}`);
  const args = ['--variant=minbase', `--include=${BASE_PACKAGES.join(',')}`];
  for (const o of aptOptions) args.push(`--aptopt=${o}`);
  for (const o of DPKG_EXCLUDES) args.push(`--dpkgopt=${o}`);
  args.push(suite, target, ...sources);
  let step = 0;
  const tail: string[] = [];
  await run('mmdebstrap', args, {
    signal,
    // Debian's initrd is not used (kiln makes a lean one): do not spend time generating it.
    env: { INITRD: 'No' },
    installHint: 'apt install mmdebstrap',
    onStderr: (line) => {
      tail.push(line);
      if (tail.length > 20) tail.shift();
      if (line.startsWith('I: ')) {
        step++;
        ui.message(line.slice(3));
        ui.progress('mmdebstrap', step);
      }
    },
  }).catch((err: unknown) => {
    if (err instanceof SystemError) {
      throw new SystemError('MmdebstrapFailed', `mmdebstrap could not create the ${suite} tree`, {
        details: tail.slice(-10),
        hint: 'check that this machine reaches its apt sources (apt-get update)',
        cause: err,
      });
    }
    throw err;
  });
  ui.progress('mmdebstrap', step, step, true);
}
