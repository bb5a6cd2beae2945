/** How `build` and `pipeline` pull a `-var source_image=REF` the catalog lacks (share/source.ts). */
import type { CatalogApi } from '../../catalog/types.js';
import { BuildUi, type Ui } from '../../core/events.js';
import type { ClientOptions } from '../../registry/index.js';
import { sourceFetcher } from '../../share/index.js';
import type { CliContext } from '../context.js';

/** A source fetcher bound to the command: its catalog, registry options, UI and signals. */
export function sourcePuller(
  ctx: CliContext,
  catalog: CatalogApi,
  clientOptions: ClientOptions,
  ui: Ui,
): ReturnType<typeof sourceFetcher> {
  return sourceFetcher({
    catalog,
    clientOptions,
    ui: new BuildUi(ui, 'pull'),
    signal: ctx.signal,
    cleanupSignal: ctx.cleanupSignal,
    onCleanupPending: ctx.pendingCleanups('pull'),
  });
}
