/**
 * The run's claim on what it will make in AWS, before anything is made: it announces the
 * build in the local run journal (each later step names its resource there before creating
 * it: journalAws) and starts the heartbeat that renews the lease tag (`kiln:expires`) on
 * everything the run has made so far, so no other machine's sweep takes a live run for a
 * dead one. The cleanup, the last to run, stops the heartbeat and ends the journal entry;
 * a kill -9 skips it, which is what lets the next build see the run is dead.
 */
import { CreateTagsCommand, type EC2Client } from '@aws-sdk/client-ec2';
import { describeAwsError } from '../../../aws/errors.js';
import type { AwsJournalEntry } from '../../../aws/gc.js';
import { LEASE_MS, RENEW_MS } from '../../../aws/lease.js';
import { EXPIRES_TAG } from '../../../aws/tags.js';
import type { Step } from '../../../core/steps.js';
import type { AmazonState } from '../state.js';

export const openLease: Step<AmazonState> = {
  name: 'open-lease',
  async run(state, { ui }) {
    const { ctx } = state;
    const id = `${ctx.runId}-${ctx.buildName}`.replace(/[^A-Za-z0-9._-]/g, '_');
    ctx.catalog.journal.begin(id, process.pid, `kiln build ${ctx.buildName} (amazon-ebs)`);
    state.journalRun = id;
    state.heartbeat = setInterval(() => {
      void renewLease(state).catch((err) =>
        ui.message(`could not renew the run's lease: ${describeAwsError(err)}`),
      );
    }, RENEW_MS);
    state.heartbeat.unref();
  },
  async cleanup(state) {
    if (state.heartbeat) clearInterval(state.heartbeat);
    delete state.heartbeat;
    if (state.journalRun) state.ctx.catalog.journal.end(state.journalRun);
    delete state.journalRun;
  },
};

/**
 * Names an AWS resource in the journal before it is created (again with its id once known:
 * the entry is updated). `key` tells entries of one run apart (a name or a launch token).
 */
export function journalAws(
  state: AmazonState,
  kind: 'aws-key-pair' | 'aws-security-group' | 'aws-instance' | 'aws-image',
  key: string,
  entry: Omit<AwsJournalEntry, 'runTag'>,
): void {
  if (!state.journalRun) return;
  state.ctx.catalog.journal.record({
    runId: state.journalRun,
    kind,
    ref: `${kind}:${entry.region}:${key}`,
    metadata: { ...entry, runTag: state.ctx.runId },
  });
}

/** Moves `kiln:expires` forward on every resource the run has made so far, region by region. */
export async function renewLease(state: AmazonState): Promise<void> {
  const expires = new Date(Date.now() + LEASE_MS).toISOString();
  const byRegion = new Map<string, string[]>();
  const add = (region: string, id: string | undefined) => {
    if (id) byRegion.set(region, [...(byRegion.get(region) ?? []), id]);
  };
  const home = state.config.region;
  add(home, state.createdKeyPairId);
  add(home, state.createdGroupId);
  add(home, state.instanceId);
  for (const m of state.made) add(m.region, m.id);
  for (const [region, ids] of byRegion) {
    const ec2: EC2Client = state.ec2(region);
    const tags = [{ Key: EXPIRES_TAG, Value: expires }];
    try {
      await ec2.send(new CreateTagsCommand({ Resources: ids, Tags: tags }));
    } catch {
      // One gone resource fails the whole call: renew the others one by one.
      for (const id of ids)
        await ec2.send(new CreateTagsCommand({ Resources: [id], Tags: tags })).catch(() => {});
    }
  }
}
