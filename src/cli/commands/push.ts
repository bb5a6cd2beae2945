/**
 * `kiln push IMAGE REF`: sends an image and its chain to an OCI registry. The manifest's
 * digest goes to stdout (`--output json`: one object describing the push); progress to
 * stderr.
 */
import type { Command } from 'commander';
import { Catalog } from '../../catalog/index.js';
import { BuildUi } from '../../core/events.js';
import { savedStateOf } from '../../plugins.js';
import { parseReference } from '../../registry/index.js';
import { pushImage } from '../../share/index.js';
import { withContext } from '../context.js';
import { outputOption } from './output-flags.js';
import { addRegistryFlags, type RegistryFlags, registryOptions } from './registry-flags.js';

interface PushOpts extends RegistryFlags {
  withState?: boolean;
  output?: string;
}

/** Registers `kiln push`. */
export function registerPush(program: Command): void {
  const cmd = program
    .command('push')
    .description(
      'send a local image and its parents (base → build → release) to an OCI registry, one layer per image',
    )
    .argument('<image>', 'image id, prefix, tag or name')
    .argument('<ref>', 'where to: host[:port]/repository[:tag] (default tag: latest)')
    .option(
      '--with-state',
      "also send the image's saved VM state. Off by default: the state is the build VM's memory and can hold whatever the build handled (keys, tokens, downloaded secrets); a state never saved (templates with sensitive variables) cannot be sent",
    )
    .addOption(outputOption('one JSON object describing the push on stdout'));
  addRegistryFlags(cmd).action(
    withContext(
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
    ),
  );
}
