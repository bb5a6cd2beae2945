/**
 * What builders' unit tests share: a BuildContext over an open catalog that records the Ui's
 * events in memory, and a builder's steps wrapped so each run and cleanup is logged (and one
 * step fails on demand, before or after its work).
 */
import type { CatalogApi } from '../catalog/types.js';
import { BuildUi, MemoryUi } from './events.js';
import type { BuildContext } from './plugin.js';
import { Secrets } from './secrets.js';
import type { Step } from './steps.js';

export interface HarnessOptions {
  buildName: string;
  buildType: string;
  templateDir: string;
  kilnHome: string;
  catalog: CatalogApi;
  signal?: AbortSignal;
  /** What `{{ .Key }}` becomes when the data has no Key (default: the empty string). */
  missing?: (key: string) => string;
}

/** A BuildContext for a builder's run; Packer's `{{ .Key }}` interpolated from the data given. */
export function harnessContext(o: HarnessOptions): BuildContext {
  const ui = new MemoryUi(new Secrets());
  const missing = o.missing ?? (() => '');
  return {
    buildName: o.buildName,
    buildType: o.buildType,
    templateDir: o.templateDir,
    kilnHome: o.kilnHome,
    catalog: o.catalog,
    signal: o.signal ?? new AbortController().signal,
    ui: new BuildUi(ui, o.buildName),
    rootUi: ui,
    secrets: ui.secrets,
    force: false,
    onError: 'cleanup',
    runId: 'run-0123456789abcdef',
    interpolate: (t, data) =>
      t.replace(/\{\{\s*\.(\w+)\s*\}\}/g, (_, k: string) => String(data?.[k] ?? missing(k))),
    generated: {},
  };
}

/** `steps`, each logging `run NAME` / `cleanup NAME` into `log`; `fail` makes one step throw. */
export function loggedSteps<S>(
  steps: readonly Step<S>[],
  log: string[],
  fail?: { step: string; when: 'before' | 'after' },
): Step<S>[] {
  return steps.map((s) => ({
    name: s.name,
    async run(state, ctx) {
      log.push(`run ${s.name}`);
      if (fail?.step === s.name && fail.when === 'before') throw new Error(`${s.name} failed`);
      await s.run(state, ctx);
      if (fail?.step === s.name) throw new Error(`${s.name} failed`);
    },
    ...(s.cleanup
      ? {
          async cleanup(state, ctx) {
            log.push(`cleanup ${s.name}`);
            await s.cleanup!(state, ctx);
          },
        }
      : {}),
  }));
}
