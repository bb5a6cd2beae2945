/**
 * Runs a Packer template end to end through kiln's template loader and build runner,
 * with the `null` builder connected over SSH to a test sshd: the provisioners meet a real
 * OpenSSH server, and the test reads the events the library emitted.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Catalog } from '../../src/catalog/index.js';
import { runBuilds } from '../../src/core/build.js';
import { MemoryUi, type UiEvent } from '../../src/core/events.js';
import { Secrets } from '../../src/core/secrets.js';
import { registry } from '../../src/plugins.js';
import { loadTemplate } from '../../src/template/index.js';
import type { TestSshd } from './sshd.js';

export interface BuildRun {
  events: UiEvent[];
  /** Every ui line's text, in order. */
  lines: string[];
  error?: unknown;
  exitCode: number;
}

/** Writes `provisioners` into a null-builder template aimed at `sshd` and builds it. */
export async function buildWithProvisioners(
  dir: string,
  sshd: TestSshd,
  privateKeyFile: string,
  provisioners: unknown[],
  opts: {
    variables?: Record<string, string>;
    sensitive?: string[];
    vars?: Array<[string, string]>;
    signal?: AbortSignal;
  } = {},
): Promise<BuildRun> {
  const template = {
    ...(opts.variables ? { variables: opts.variables } : {}),
    ...(opts.sensitive ? { 'sensitive-variables': opts.sensitive } : {}),
    builders: [
      {
        type: 'null',
        ssh_host: sshd.host,
        ssh_port: sshd.port,
        ssh_username: sshd.user,
        ssh_private_key_file: privateKeyFile,
        ssh_timeout: '20s',
      },
    ],
    provisioners,
  };
  const path = join(dir, `template-${Date.now()}-${Math.random().toString(16).slice(2)}.json`);
  await writeFile(path, JSON.stringify(template, null, 2));
  using catalog = Catalog.open(join(dir, 'kiln-home'));
  const loaded = await loadTemplate(path, {
    registry,
    catalog,
    vars: opts.vars,
  });
  const ui = new MemoryUi(new Secrets());
  const result = await runBuilds(loaded, {
    ui,
    catalog,
    signal: opts.signal,
  });
  const lines = ui.events.flatMap((e) =>
    e.type === 'ui' ? [e.text] : e.type === 'build-error' ? [e.message] : [],
  );
  return { events: ui.events, lines, error: result.builds[0]?.error, exitCode: result.exitCode };
}
