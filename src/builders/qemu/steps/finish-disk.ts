/**
 * After a build that restored or saved VM states (warm.ts), makes its disk an ordinary
 * image again: one overlay on the source image's disk (rebased with its contents kept),
 * named `disk.<format>`. The frozen layers become warm states: the source's in
 * `<source dir>/warm/`, this image's in `<work dir>/warm/` (it moves with the image).
 */
import { existsSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Step } from '../../../core/steps.js';
import { sleep } from '../../../lib/sleep.js';
import { journal, type QemuState, unjournal } from '../state.js';
import { findWarm, removeWarm, WARM_DIR, WARM_LAYER, writeWarm } from '../warm.js';

/** Waits for a state file (zstd renames it into place once complete); false after `ms`. */
async function appeared(file: string, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!existsSync(file)) {
    if (Date.now() > end) return false;
    await sleep(50);
  }
  return true;
}

export const finishDisk: Step<QemuState> = {
  name: 'finish-disk',
  async run(state, { ui, signal }) {
    if (state.frozen.length === 0 && !state.warmFrom) return;
    const c = state.config;
    const src = state.source!;
    const work = state.workDir!;
    // 1. The image's disk: its data kept, its backing the source's disk (reads the old chain,
    //    so before any frozen layer moves). qemu-img copies only what differs: milliseconds.
    await state.driver.rebaseImage(state.disk!, src.file, src.format, true, signal);

    // 2. Frozen layers become warm states, oldest first; each is backed by the one before, so
    //    once one is dropped the later ones are useless too.
    let chainOk = true;
    let previous: { now: string } | undefined;
    for (const f of state.frozen) {
      const keep = chainOk && f.saved && (await appeared(f.stateFile, 10_000));
      const srcDir = dirname(src.file);
      const target = f.kind === 'source' ? join(srcDir, WARM_DIR) : join(work, WARM_DIR);
      // Another build may have saved a usable state of the source meanwhile: keep that one.
      // An unusable one (old, broken, other VM settings) is replaced below.
      const taken =
        f.kind === 'source' &&
        existsSync(target) &&
        typeof (await findWarm(srcDir, state.warmSpec!, c.ssh_username!)) !== 'string';
      if (!keep || taken) {
        chainOk = false;
        await rm(f.layer, { force: true });
        await rm(f.stateFile, { force: true });
        continue;
      }
      if (previous) await state.driver.rebaseImage(f.layer, previous.now, 'qcow2', false, signal);
      // Written beside its final place, then renamed: a half-written state is never used.
      const tmp = `${target}.tmp-${state.imageId}`;
      journal(state, 'dir', tmp);
      try {
        await writeWarm(
          tmp,
          { layer: f.layer, state: f.stateFile, privateKeyFile: state.privateKeyFile! },
          {
            spec: state.warmSpec!,
            user: c.ssh_username!,
            publicKey: state.publicKey!,
            credentials: state.vmCredentials ?? {},
          },
        );
        if (existsSync(target)) {
          // Replacing an unusable state: states layered on it fail over to a boot.
          const old = `${target}.old-${state.imageId}`;
          journal(state, 'dir', old);
          await rename(target, old);
          await rename(tmp, target);
          await removeWarm(old);
          unjournal(state, old);
        } else await rename(tmp, target);
      } catch (err) {
        ui.message(`could not keep the saved VM state (${(err as Error).message})`);
        await removeWarm(tmp);
        chainOk = false;
        continue;
      } finally {
        unjournal(state, tmp);
      }
      previous = { now: join(target, WARM_LAYER) };
    }

    // 3. The active overlay takes the disk's usual name (the first frozen layer had it).
    const disk = join(work, `disk.${c.format}`);
    if (state.disk !== disk) {
      await rename(state.disk!, disk);
      state.disk = disk;
    }
  },
};
