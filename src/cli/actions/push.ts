/** The bodies of `kiln push` (declared in `commands/push.ts`). */
import { Catalog } from '../../catalog/index.js';
import { BuildUi } from '../../core/events.js';
import { savedStateOf } from '../../plugins.js';
import { parseReference } from '../../registry/index.js';
import { pushImage } from '../../share/index.js';
import { type RegistryFlags, registryOptions } from '../commands/registry-flags.js';
import { withContext } from '../context.js';

interface PushOpts extends RegistryFlags {
  withState?: boolean;
  output?: string;
}

/** `kiln push IMAGE REF`: sends the image and its chain; the digest on stdout. */
export const push = withContext(
  { name: 'kiln push' },
  async (ctx, image: string, refText: string, opts: PushOpts) => {
    const mode = ctx.mode;
    const ref = parseReference(refText);
    const clientOptions = registryOptions(opts, ctx.host.env);
    const ui = new BuildUi(ctx.ui({ progressOnly: true }), 'push');
    using catalog = Catalog.open();
    const r = await pushImage({
      catalog,
      image,
      ref,
      clientOptions,
      withState: opts.withState === true,
      stateTransfer: savedStateOf,
      ui,
      signal: ctx.signal,
      cleanupSignal: ctx.cleanupSignal,
      onCleanupPending: ctx.pendingCleanups(`push ${refText}`),
    });
    const count = (how: string) => r.blobs.filter((b) => b.how === how).length;
    if (mode === 'json')
      ctx.out(
        `${JSON.stringify({
          reference: r.reference,
          digest: r.digest,
          images: r.images,
          blobs: {
            total: r.blobs.length,
            uploaded: count('uploaded'),
            mounted: count('mounted'),
            present: count('exists'),
            bytesSent: r.blobs.reduce((n, b) => n + b.bytesSent, 0),
          },
          state: r.stateDigest ?? null,
        })}\n`,
      );
    else ctx.out(`${r.reference}@${r.digest}\n`);
  },
);
