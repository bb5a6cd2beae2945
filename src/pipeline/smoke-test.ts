/**
 * The image test before promotion: boots a release image in a fresh instance on a free
 * host port, asks it over HTTP, and stops it whatever happened. A pass is remembered per
 * image and check (`<kiln home>/pipeline/smoke/`): images are immutable, so a reused
 * release that passed the same check before is not booted again (unless forced).
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalJson } from '../core/input-hash.js';
import { openJournal } from '../core/journal-step.js';
import { runSteps, type Step } from '../core/steps.js';
import type { SmokeState, SmokeTestOptions } from './smoke-state.js';
import { bootInstance } from './steps/boot-instance.js';
import { checkHttp } from './steps/check-http.js';
import { rememberPass } from './steps/remember-pass.js';

/** The steps of a smoke test that boots, in order (each removes what it made in its cleanup). */
export const SMOKE_STEPS: readonly Step<SmokeState>[] = [
  openJournal,
  bootInstance,
  checkHttp,
  rememberPass,
];

export type { SmokeTestOptions } from './smoke-state.js';

/** Checks the image; resolves when it answered as expected, throws why it did not. */
export async function smokeTest(o: SmokeTestOptions): Promise<{ cached: boolean }> {
  const check = {
    image: o.imageId,
    port: o.guestPort,
    path: o.path,
    status: o.expectStatus,
    body: o.expectBody ?? null,
  };
  const key = createHash('sha256').update(canonicalJson(check)).digest('hex');
  const { catalog } = o;
  const dir = join(catalog.home, 'pipeline', 'smoke');
  const marker = join(dir, `${o.imageId}-${key.slice(0, 16)}.json`);
  if (!o.force && existsSync(marker)) {
    o.ui.say(
      `${o.imageId} passed this check before (GET ${o.path} on port ${o.guestPort}): not booting it again`,
    );
    return { cached: true };
  }

  const state: SmokeState = {
    catalog,
    runId: `smoke-${randomBytes(8).toString('hex')}`,
    runDescription: `kiln pipeline: smoke test of ${o.imageId}`,
    opts: o,
    check,
    marker,
  };
  await runSteps(
    SMOKE_STEPS,
    state,
    { signal: o.signal ?? new AbortController().signal, ui: o.ui },
    o,
  );
  return { cached: false };
}
