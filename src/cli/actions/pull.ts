/** The bodies of `kiln pull` (declared in `commands/pull.ts`). */
import { Catalog } from '../../catalog/index.js';
import { BuildUi } from '../../core/events.js';
import { savedStateOf } from '../../plugins.js';
import { parseReference } from '../../registry/index.js';
import { pullImage } from '../../share/index.js';
import { type RegistryFlags, registryOptions } from '../commands/registry-flags.js';
import { withContext } from '../context.js';

interface PullOpts extends RegistryFlags {
  output?: string;
  withState?: boolean;
}

/** `kiln pull REF`: fetches the image and its chain; its id on stdout. */
export const pull = withContext(
  { name: 'kiln pull' },
  async (ctx, refText: string, opts: PullOpts) => {
    const mode = ctx.mode;
    const ref = parseReference(refText);
    const clientOptions = registryOptions(opts, ctx.host.env);
    const ui = new BuildUi(ctx.ui({ progressOnly: true }), 'pull');
    using catalog = Catalog.open();
    const r = await pullImage({
      catalog,
      ref,
      clientOptions,
      withState: opts.withState === true,
      stateTransfer: savedStateOf,
      ui,
      signal: ctx.signal,
      cleanupSignal: ctx.cleanupSignal,
      onCleanupPending: ctx.pendingCleanups(`pull ${refText}`),
    });
    if (mode === 'json')
      ctx.out(
        `${JSON.stringify({
          reference: r.reference,
          digest: r.digest,
          image: r.image.id,
          images: r.images,
          bytes: r.bytes,
          state: r.stateDigest ?? null,
        })}\n`,
      );
    else ctx.out(`${r.image.id}\n`);
  },
);
