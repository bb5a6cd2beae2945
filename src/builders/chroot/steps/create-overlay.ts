/**
 * The disk the build writes: a qcow2 overlay on the source image's disk, in
 * `<images>/.tmp-<id>/` until the build succeeds; the source is never written. Its
 * cleanup removes the work dir unless the image was registered — and never while
 * anything is mounted below it.
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { journal, unjournal } from '../../../core/journal-step.js';
import type { Step } from '../../../core/steps.js';
import { SystemError } from '../../../lib/errors.js';
import type { ChrootState } from '../state.js';

/** Removes `dir` with everything in it, unless something is mounted at or below it. */
export async function removeUnmounted(state: ChrootState, dir: string): Promise<void> {
  const mounted = state.driver.mountsUnder(dir);
  if (mounted.length > 0) {
    throw new SystemError(
      'StillMounted',
      `${dir} was not removed: ${mounted.join(', ')} still mounted`,
      {
        hint: `unmount them (umount ${mounted.join(' ')}), then run \`kiln gc\``,
      },
    );
  }
  await rm(dir, { recursive: true, force: true });
}

export const createOverlay: Step<ChrootState> = {
  name: 'create-overlay',
  async run(state, { ui, signal }) {
    const src = state.source!;
    state.imageId = state.catalog.images.newId('img');
    const work = join(state.catalog.imagesDir, `.tmp-${state.imageId}`);
    journal(state, 'dir', work);
    state.workDir = work;
    await mkdir(work, { recursive: true, mode: 0o700 });
    state.disk = join(work, 'disk.qcow2');
    ui.say('Creating overlay disk on the source image...');
    await state.driver.createOverlay(src.files[0]!, state.sourceFormat!, state.disk, signal);
  },
  async cleanup(state) {
    if (!state.workDir || state.registered) return;
    await removeUnmounted(state, state.workDir);
    unjournal(state, state.workDir);
    state.workDir = undefined;
  },
  owes: (state) => (state.workDir && !state.registered ? `remove ${state.workDir}` : undefined),
};
