/**
 * The image test before promotion: boots a release image in a fresh instance on a free
 * host port, asks it over HTTP, and stops it whatever happened. A pass is remembered per
 * image and check (`<kiln home>/pipeline/smoke/`): images are immutable, so a reused
 * release that passed the same check before is not booted again (unless forced).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CatalogApi } from '../catalog/types.js';
import type { BuildUi } from '../core/events.js';
import { canonicalJson } from '../core/input-hash.js';
import { parseGoDurationMs } from '../lib/duration.js';
import { startInstance, stopInstance, waitHttp, whyNotRunning } from '../runtime/index.js';

export interface SmokeTestOptions {
  catalog: CatalogApi;
  imageId: string;
  /** The port the service listens on inside the guest. */
  guestPort: number;
  path: string;
  expectStatus: number;
  expectBody?: string;
  /** Go duration: how long the image gets to boot and answer. */
  timeout: string;
  ui: BuildUi;
  signal?: AbortSignal;
  /** Boot and check even when this check passed before. */
  force?: boolean;
  /** Instance name prefix. */
  name: string;
}

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

  o.ui.say(`Booting ${o.imageId} to check GET ${o.path} on guest port ${o.guestPort}`);
  const instance = await startInstance({
    catalog,
    image: o.imageId,
    ports: [{ host: 0, guest: o.guestPort }],
    name: `${o.name}-${o.imageId.slice(4, 12)}`,
    ...(o.signal ? { signal: o.signal } : {}),
    ui: o.ui,
  });
  try {
    const hostPort = instance.ports[0]!.host;
    const answer = await waitHttp({
      port: hostPort,
      path: o.path,
      timeoutMs: parseGoDurationMs(o.timeout),
      expectStatus: o.expectStatus,
      ...(o.expectBody !== undefined ? { expectBody: o.expectBody } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
      isAlive: () => {
        const now = catalog.instances.get(instance.id);
        return now ? whyNotRunning(now) : 'the instance is gone';
      },
    });
    o.ui.say(
      `${o.imageId} answered ${answer.status} after ${(answer.elapsedMs / 1000).toFixed(1)} s: ${answer.body.trim().slice(0, 80)}`,
    );
  } finally {
    // The instance is thrown away: no graceful shutdown to wait for.
    await stopInstance(catalog, instance.id, { timeoutMs: 0 }).catch((err: unknown) =>
      o.ui.error(`could not stop ${instance.id}: ${(err as Error).message}`),
    );
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(marker, `${JSON.stringify({ ...check, passedAt: new Date().toISOString() })}\n`);
  return { cached: false };
}
