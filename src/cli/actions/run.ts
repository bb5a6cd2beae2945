/** The bodies of `kiln run` (declared in `commands/run.ts`). */
import { Catalog } from '../../catalog/index.js';
import { BuildUi } from '../../core/events.js';
import { CancelledError, type KilnError, SystemError, UserError } from '../../lib/errors.js';
import { parseReference } from '../../registry/index.js';
import {
  consoleTail,
  startInstance,
  stopInstance,
  waitHttp,
  whyNotRunning,
} from '../../runtime/index.js';
import { parsePortSpec } from '../../runtime/port-spec.js';
import { pullImage } from '../../share/index.js';
import { type RegistryFlags, registryOptions } from '../commands/registry-flags.js';
import { withContext } from '../context.js';
import { cpusOption, durationOption, intOption, memoryOption } from '../options.js';

interface RunOpts extends RegistryFlags {
  publish: string[];
  name?: string;
  memory?: string;
  cpus?: string;
  waitHttp?: string;
  waitPort?: string;
  timeout: string;
  quiet?: boolean;
}

/** `kiln run IMAGE`: boots an instance (pulling a registry reference first); its id on stdout. */
export const run = withContext(
  { name: 'kiln run' },
  async (ctx, imageRef: string, opts: RunOpts) => {
    const ports = opts.publish.map((p) => parsePortSpec(p));
    const memoryMb = memoryOption(opts.memory);
    const cpus = cpusOption(opts.cpus);
    const timeoutMs = durationOption('--timeout', opts.timeout);
    const waitPort = intOption('--wait-port', opts.waitPort);
    const waitPath = opts.waitHttp ?? (waitPort !== undefined ? '/' : undefined);
    if (waitPath !== undefined && !waitPath.startsWith('/'))
      throw new UserError(
        'InvalidOption',
        `--wait-http "${waitPath}" must be a path starting with /`,
      );
    if (waitPath !== undefined && ports.length === 0)
      throw new UserError('InvalidOption', '--wait-http needs a forwarded port', {
        hint: 'add -p HOST:GUEST',
      });
    if (waitPort !== undefined && !ports.some((p) => p.guest === waitPort))
      throw new UserError(
        'InvalidOption',
        `--wait-port ${waitPort} is not a forwarded guest port`,
        {
          hint: `add -p HOST:${waitPort}`,
        },
      );

    const bui = new BuildUi(ctx.ui({ progressOnly: true, quiet: opts.quiet === true }), 'run');
    const signal = ctx.signal;
    using catalog = Catalog.open();
    // An image id, tag or name has no `/`; a registry reference always has one.
    let image = imageRef;
    if (imageRef.includes('/')) {
      const pulled = await pullImage({
        catalog,
        ref: parseReference(imageRef),
        clientOptions: registryOptions(opts, ctx.host.env),
        ui: new BuildUi(ctx.ui({ progressOnly: true, quiet: opts.quiet === true }), 'pull'),
        signal,
        cleanupSignal: ctx.cleanupSignal,
        onCleanupPending: ctx.pendingCleanups(`pull ${imageRef}`),
      });
      image = pulled.image.id;
    }
    const t0 = Date.now();
    const rec = await startInstance({
      catalog,
      image,
      ports,
      ...(opts.name !== undefined ? { name: opts.name } : {}),
      ...(memoryMb !== undefined ? { memoryMb } : {}),
      ...(cpus !== undefined ? { cpus } : {}),
      signal,
      ui: bui,
    });
    const where = rec.ports.map((p) => `127.0.0.1:${p.host} → ${p.guest}`).join(', ');
    let summary = `${rec.id} running from ${rec.imageId}${where ? `; ${where}` : ''}`;
    let health: { url: string; status: number } | null = null;
    if (waitPath !== undefined) {
      const fwd = rec.ports.find((p) => p.guest === (waitPort ?? ports[0]!.guest))!;
      const url = `http://127.0.0.1:${fwd.host}${waitPath}`;
      bui.message(`waiting for ${url} (up to ${opts.timeout})`);
      try {
        const r = await bui.wait(`waiting for ${url}`, () =>
          waitHttp({
            port: fwd.host,
            path: waitPath,
            timeoutMs,
            signal,
            isAlive: () => whyNotRunning(rec),
          }),
        );
        summary = `${rec.id} running from ${rec.imageId}; ${url} answered ${r.status} in ${((Date.now() - t0) / 1000).toFixed(1)} s`;
        health = { url, status: r.status };
      } catch (err) {
        // Nothing is left of an instance that did not become healthy: read its console first.
        const lines = await consoleTail(rec, 15);
        await stopInstance(catalog, rec.id, { timeoutMs: 0 }).catch(() => undefined);
        if (err instanceof CancelledError)
          throw new CancelledError(`kiln run cancelled; ${rec.id} stopped`);
        const e = err as KilnError;
        throw new SystemError(
          e.code ?? 'HealthCheckFailed',
          `${rec.id} from ${rec.imageId} did not become healthy; it was stopped`,
          {
            details: [
              e.message,
              ...(e.details ?? []),
              ...(lines.length > 0
                ? ['last console lines:', ...lines]
                : ['the console printed nothing']),
            ],
            hint: 'check that the service is enabled at boot and listens on the guest port',
          },
        );
      }
    }
    if (opts.quiet !== true) ctx.err(`${summary}\n`);
    if (ctx.mode !== 'json') return ctx.out(`${rec.id}\n`);
    const json = {
      id: rec.id,
      image: rec.imageId,
      name: rec.name ?? null,
      ports: rec.ports,
      health,
    };
    ctx.out(`${JSON.stringify(json)}\n`);
  },
);
