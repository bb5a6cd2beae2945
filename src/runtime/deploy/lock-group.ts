/**
 * One deploy per group at a time: `<instances>/.deploy-<group>.lock`, naming this process
 * (a dead holder's lock is taken over). Journalled once this run holds it (before, the
 * file may be another deploy's), so a kiln that dies holding it leaves it to `kiln gc`;
 * cleanup removes it whatever happened.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isSameProcessAlive, processIdentity } from '../../catalog/process-info.js';
import { journal, unjournal } from '../../core/journal-step.js';
import type { Step } from '../../core/steps.js';
import { SystemError, UserError } from '../../lib/errors.js';
import { instancesDir } from '../status.js';
import type { DeployLocalState } from './state.js';

export const lockGroup: Step<DeployLocalState> = {
  name: 'lock-group',
  async run(state) {
    const group = state.opts.group;
    const dir = instancesDir(state.catalog);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const file = join(dir, `.deploy-${group}.lock`);
    const mine = JSON.stringify({ pid: process.pid, ...processIdentity(process.pid) });
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeFileSync(file, mine, { flag: 'wx', mode: 0o600 });
        state.lockFile = file;
        journal(state, 'file', file);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        let holder: { pid?: number; startTime?: string; bootId?: string } = {};
        try {
          holder = JSON.parse(readFileSync(file, 'utf8')) as typeof holder;
        } catch {
          // Half-written by a process that died: take it over.
        }
        if (holder.pid && isSameProcessAlive(holder.pid, holder)) {
          throw new UserError(
            'DeployInProgress',
            `another kiln (pid ${holder.pid}) is deploying group "${group}"`,
            {
              hint: 'wait for it to finish',
            },
          );
        }
        rmSync(file, { force: true });
      }
    }
    throw new SystemError('DeployLockFailed', `could not lock group "${group}" (${file})`);
  },
  async cleanup(state) {
    if (!state.lockFile) return;
    rmSync(state.lockFile, { force: true });
    unjournal(state, state.lockFile);
    state.lockFile = undefined;
  },
};
