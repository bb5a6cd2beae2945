/**
 * Before the disk can become an image, what sits on it must be gone: the mounts, the
 * loop device and the export (Packer's amazon-chroot `StepEarlyCleanup`). This step runs
 * those steps' cleanups now, in reverse order; each clears its state, so the runner's
 * final cleanups have nothing left to undo. A failure here fails the build: an image is
 * never registered from a disk still in use.
 */
import type { Step } from '../../../core/steps.js';
import type { ChrootState } from '../state.js';

/** A step that runs the cleanups of `steps` (given in build order) in reverse. */
export function earlyCleanup(steps: readonly Step<ChrootState>[]): Step<ChrootState> {
  return {
    name: 'early-cleanup',
    async run(state, { ui, signal }) {
      ui.say('Unmounting the image and stopping its export...');
      for (const step of [...steps].reverse())
        await step.cleanup?.(state, { signal, ui, failed: false });
    },
  };
}
