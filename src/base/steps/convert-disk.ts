/**
 * `<work>/disk.raw` → `<work>/disk.qcow2` (qemu-img convert), then the raw file is
 * removed. A half-written qcow2 goes with the work dir.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Step } from '../../core/steps.js';
import { run } from '../../lib/exec.js';
import type { BaseState } from '../state.js';

export const convertDisk: Step<BaseState> = {
  name: 'convert-disk',
  async run(state, { signal }) {
    const raw = join(state.work, 'disk.raw');
    await run(
      'qemu-img',
      ['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, join(state.work, 'disk.qcow2')],
      {
        signal,
      },
    );
    await rm(raw, { force: true });
  },
};
