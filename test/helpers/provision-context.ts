/**
 * A ProvisionContext for calling one provisioner directly in a test, with a MemoryUi.
 */
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Catalog } from '../../src/catalog/index.js';
import type { Communicator } from '../../src/communicator/communicator.js';
import { BuildUi, MemoryUi } from '../../src/core/events.js';
import type { ProvisionContext } from '../../src/core/plugin.js';
import { Secrets } from '../../src/core/secrets.js';
import { render } from '../../src/template/interpolate.js';

export function testProvisionContext(
  comm: Communicator | undefined,
  label: string,
  opts: { signal?: AbortSignal; secrets?: Secrets } = {},
): { ctx: ProvisionContext; ui: MemoryUi; lines: () => string[] } {
  const secrets = opts.secrets ?? new Secrets();
  const ui = new MemoryUi(secrets);
  const ctx: ProvisionContext = {
    buildName: 'test',
    buildType: 'null',
    templateDir: process.cwd(),
    kilnHome: process.cwd(),
    // Provisioners never touch the catalog: an empty read-only one, which creates nothing.
    catalog: Catalog.openReadOnly(join(tmpdir(), `kiln-no-home-${randomUUID()}`)),
    signal: opts.signal ?? new AbortController().signal,
    ui: new BuildUi(ui, 'test'),
    rootUi: ui,
    secrets,
    force: false,
    onError: 'cleanup',
    runId: 'run-test',
    interpolate: (text, data) => render(text, { initTime: new Date(), data }),
    generated: {},
    comm,
    label,
  };
  return { ctx, ui, lines: () => ui.events.flatMap((e) => (e.type === 'ui' ? [e.text] : [])) };
}
