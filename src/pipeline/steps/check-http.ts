/**
 * Asks the booted instance over HTTP until it answers as expected (status, body) or the
 * test's timeout passes; fails at once, with why, when the instance stops meanwhile.
 * Makes nothing.
 */

import type { Step } from '../../core/steps.js';
import { parseGoDurationMs } from '../../lib/duration.js';
import { waitHttp, whyNotRunning } from '../../runtime/index.js';
import type { SmokeState } from '../smoke-state.js';

export const checkHttp: Step<SmokeState> = {
  name: 'check-http',
  async run(state, { ui, signal }) {
    const o = state.opts;
    const instance = state.instance!;
    const port = instance.ports[0]!.host;
    const answer = await ui.wait(`smoke test: waiting for http://127.0.0.1:${port}${o.path}`, () =>
      waitHttp({
        port,
        path: o.path,
        timeoutMs: parseGoDurationMs(o.timeout),
        expectStatus: o.expectStatus,
        ...(o.expectBody !== undefined ? { expectBody: o.expectBody } : {}),
        signal,
        isAlive: () => {
          const now = state.catalog.instances.get(instance.id);
          return now ? whyNotRunning(now) : 'the instance is gone';
        },
      }),
    );
    ui.say(
      `${o.imageId} answered ${answer.status} after ${(answer.elapsedMs / 1000).toFixed(1)} s: ${answer.body.trim().slice(0, 80)}`,
    );
  },
};
