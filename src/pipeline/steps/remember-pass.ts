/**
 * Remembers that the image passed this check (`<kiln home>/pipeline/smoke/`): images are
 * immutable, so the same check of the same image need not boot it again. Written whole
 * in one call, after the check passed; nothing to undo.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Step } from '../../core/steps.js';
import type { SmokeState } from '../smoke-state.js';

export const rememberPass: Step<SmokeState> = {
  name: 'remember-pass',
  async run(state) {
    mkdirSync(dirname(state.marker), { recursive: true, mode: 0o700 });
    writeFileSync(
      state.marker,
      `${JSON.stringify({ ...state.check, passedAt: new Date().toISOString() })}\n`,
    );
  },
};
