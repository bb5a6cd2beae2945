/** The body of `kiln doctor` (declared in `commands/doctor.ts`). */
import { type DoctorCheck, runDoctor } from '../../doctor/index.js';
import { defaultKilnHome } from '../../lib/paths.js';
import { formatTable } from '../../ui/format.js';
import { withContext } from '../context.js';

/** `kiln doctor`: runs every check and prints each finding with its fix. */
export const doctor = withContext({ name: 'kiln doctor' }, async (ctx) => {
  const checks = await runDoctor({
    home: defaultKilnHome(ctx.host.env),
    env: ctx.host.env,
    uid: process.getuid?.(),
    nodeVersion: process.version,
  });
  const failed = checks.filter((c) => c.status === 'fail').length;
  if (failed > 0) ctx.exitCode = 1;
  if (ctx.mode === 'json') {
    ctx.out(`${JSON.stringify({ ok: failed === 0, checks }, null, 2)}\n`);
    return;
  }
  ctx.out(renderChecks(checks));
  const warned = checks.filter((c) => c.status === 'warn').length;
  ctx.err(
    failed > 0
      ? `${failed} check(s) failed${warned ? `, ${warned} warning(s)` : ''}: run the fix lines above\n`
      : `kiln is ready${warned ? ` (${warned} warning(s))` : ''}\n`,
  );
});

/** One row per check (STATUS CHECK DETAIL), each warning or failure followed by its fix. */
export function renderChecks(checks: readonly DoctorCheck[]): string {
  const label = { ok: 'ok', warn: 'warn', fail: 'FAIL' } as const;
  const table = formatTable(
    checks.map((c) => [label[c.status], c.name, c.detail]),
    2,
  ).split('\n');
  const lines: string[] = [];
  checks.forEach((c, i) => {
    lines.push(table[i]!.trimEnd());
    if (c.fix && c.status !== 'ok') lines.push(`      fix: ${c.fix}`);
  });
  return `${lines.join('\n')}\n`;
}
