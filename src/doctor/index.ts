/**
 * `kiln doctor`'s checks: the tools kiln runs, the accelerator, the catalog and its native
 * module, free disk and the kiln home. Nothing is changed; every failure names its fix.
 */
import { checkCatalog, checkSqliteModule } from './catalog.js';
import type { DoctorCheck } from './check.js';
import { checkAccelerator, checkDisk, checkHome } from './host.js';
import { checkTools } from './tools.js';

export type { DoctorCheck } from './check.js';

/** What the checks need to know about the process (only cli/ reads `process`). */
export interface DoctorOptions {
  home: string;
  env: NodeJS.ProcessEnv;
  /** The user's uid (undefined where there is none). */
  uid: number | undefined;
  nodeVersion: string;
}

/** Runs every check, in the order they are shown. */
export async function runDoctor(opts: DoctorOptions): Promise<DoctorCheck[]> {
  const major = Number(/^v(\d+)/.exec(opts.nodeVersion)?.[1] ?? 0);
  const node: DoctorCheck =
    major >= 20
      ? { name: 'node', status: 'ok', detail: opts.nodeVersion }
      : {
          name: 'node',
          status: 'fail',
          detail: `${opts.nodeVersion}: kiln needs Node.js 20 or newer`,
          fix: 'install Node.js 20 (e.g. from nodejs.org or your distribution)',
        };
  const sqlite = checkSqliteModule();
  return [
    node,
    ...(await checkTools(opts.env)),
    await checkAccelerator(),
    sqlite,
    ...(sqlite.status === 'ok' ? checkCatalog(opts.home) : []),
    checkDisk(opts.home),
    checkHome(opts.home, opts.uid),
  ];
}
