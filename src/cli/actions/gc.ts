/** The body of `kiln gc` (declared in `commands/gc.ts`). */
import { collectGarbage, type GcAction } from '../../catalog/gc.js';
import { Catalog } from '../../catalog/index.js';
import { warmBudget } from '../../catalog/warm-states.js';
import { withContext } from '../context.js';

/** `kiln gc`: cleans up after dead runs, removes stray image files, applies the warm budget. */
export const gc = withContext({ name: 'kiln gc' }, async (ctx, opts: { dryRun?: boolean }) => {
  const json = ctx.mode === 'json';
  using catalog = Catalog.open();
  const report = await collectGarbage(catalog, {
    dryRun: opts.dryRun === true,
    warmBudgetBytes: warmBudget(ctx.host.env),
    onAction: (a) => (json ? undefined : ctx.out(`${describeAction(a)}\n`)),
  });
  if (report.actions.some((a) => a.outcome === 'failed')) ctx.exitCode = 1;
  if (json) {
    const { actions, runs } = report;
    ctx.out(`${JSON.stringify({ dryRun: opts.dryRun === true, actions, runs }, null, 2)}\n`);
    return;
  }
  for (const run of report.runs) {
    const verb = run.cleared ? 'cleared' : opts.dryRun ? 'would clear' : 'kept (see above)';
    ctx.out(`run ${run.runId} (pid ${run.pid}, ${run.description}): ${verb}\n`);
  }
  if (report.actions.length === 0 && report.runs.length === 0) ctx.out('nothing to remove\n');
});

function describeAction(a: GcAction): string {
  const who = a.runId ? `run ${a.runId}: ` : '';
  const what =
    a.kind === 'process'
      ? `process ${a.ref}`
      : a.kind === 'stray'
        ? `stray ${a.ref}`
        : `${a.kind} ${a.ref}`;
  const verbs: Record<GcAction['outcome'], string> = {
    removed: 'removed',
    killed: 'killed',
    gone: 'already gone',
    skipped: 'skipped',
    left: 'left',
    failed: 'FAILED',
    'would-remove': 'would remove',
    'would-kill': 'would kill',
  };
  return `${who}${verbs[a.outcome]} ${what}${a.detail ? ` (${a.detail})` : ''}`;
}
