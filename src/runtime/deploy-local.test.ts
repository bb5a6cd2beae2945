/**
 * `kiln deploy local`'s steps without booting a guest: the group lock is held for the run,
 * journalled while held, refused to a second deploy, and removed by cleanup after a
 * failure at any later step; the journal run ends with it.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../catalog/index.js';
import { BuildUi, MemoryUi } from '../core/events.js';
import { Secrets } from '../core/secrets.js';
import { runSteps, type Step } from '../core/steps.js';
import type { DeployLocalState } from './deploy/state.js';
import { DEPLOY_LOCAL_STEPS } from './deploy-local.js';
import { instancesDir } from './status.js';

let root: string;
let catalog: Catalog;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'kiln-deploy-steps-'));
  catalog = Catalog.open(join(root, 'home'));
});

afterEach(() => {
  catalog.close();
  rmSync(root, { recursive: true, force: true });
});

function state(group: string): DeployLocalState {
  return {
    catalog,
    runId: `deploy-${group}-test-${Math.random()}`,
    runDescription: `kiln deploy local --group ${group}`,
    opts: { catalog, image: 'img-x', group, count: 1, timeoutMs: 1000 },
    image: undefined as never,
    members: [],
    port: { basePort: 18000, guestPort: 80 },
    healthPath: '/',
    slots: [18000, 18001],
    stopped: [],
  };
}

const ctx = () => ({
  signal: new AbortController().signal,
  ui: new BuildUi(new MemoryUi(new Secrets()), 'deploy'),
});
const runs = () => catalog.database.prepare('SELECT COUNT(*) FROM runs').pluck().get();

describe('deploy local steps', () => {
  it('are open-journal, lock-group, clear-exited, roll-out', () => {
    expect(DEPLOY_LOCAL_STEPS.map((s) => s.name)).toEqual([
      'open-journal',
      'lock-group',
      'clear-exited',
      'roll-out',
    ]);
  });

  it('hold the lock (journalled) until a later step fails, refuse a second deploy meanwhile, then release it', async () => {
    const lock = join(instancesDir(catalog), '.deploy-web.lock');
    const [openJournal, lockGroup] = DEPLOY_LOCAL_STEPS;
    const s = state('web');
    let second: unknown;
    const probe: Step<DeployLocalState> = {
      name: 'probe',
      async run() {
        expect(existsSync(lock)).toBe(true);
        const journalled = catalog.database
          .prepare('SELECT ref FROM run_resources WHERE run_id = ?')
          .pluck()
          .all(s.runId);
        expect(journalled).toEqual([lock]);
        second = await runSteps([openJournal!, lockGroup!], state('web'), ctx()).catch((e) => e);
        throw new Error('roll-out broke');
      },
    };
    await expect(runSteps([openJournal!, lockGroup!, probe], s, ctx())).rejects.toThrow(
      'roll-out broke',
    );
    expect((second as { code?: string }).code).toBe('DeployInProgress');
    expect(existsSync(lock)).toBe(false);
    expect(runs()).toBe(0);
    // The group can be deployed again.
    await runSteps([openJournal!, lockGroup!], state('web'), ctx());
    expect(existsSync(lock)).toBe(false);
  });
});
