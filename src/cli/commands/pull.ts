/**
 * `kiln pull REF`: fetches an image that `kiln push` sent, with its chain, into the catalog.
 * The image id goes to stdout (`--output json`: one object describing the pull); progress
 * to stderr.
 */
import type { Command } from 'commander';
import { Catalog } from '../../catalog/index.js';
import { BuildUi } from '../../core/events.js';
import { savedStateOf } from '../../plugins.js';
import { parseReference } from '../../registry/index.js';
import { pullImage } from '../../share/index.js';
import { withContext } from '../context.js';
import { outputOption } from './output-flags.js';
import { addRegistryFlags, type RegistryFlags, registryOptions } from './registry-flags.js';

interface PullOpts extends RegistryFlags {
  output?: string;
  withState?: boolean;
}

/** Registers `kiln pull`. */
export function registerPull(program: Command): void {
  const cmd = program
    .command('pull')
    .description(
      'fetch an image and its parents from an OCI registry into the catalog, with the ids they were built with',
    )
    .argument('<ref>', 'host[:port]/repository[:tag|@sha256:digest] (default tag: latest)')
    .option(
      '--with-state',
      "also fetch the image's saved VM state (pushed with --with-state), so builds from it here continue where its build stopped instead of booting",
    )
    .addOption(outputOption('one JSON object describing the pull on stdout'));
  addRegistryFlags(cmd).action(
    withContext({ name: 'kiln pull' }, async (ctx, refText: string, opts: PullOpts) => {
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
    }),
  );
}
