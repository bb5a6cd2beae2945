/**
 * One error family for kiln. Every error a user can cause carries what went wrong,
 * where (file:line:column for templates) and what to do. Only `cli/` maps errors to
 * exit codes and output.
 */
export type ErrorSource = 'user' | 'system' | 'internal';

export interface KilnErrorOptions {
  /** Who is at fault: the user's input, the machine (a tool missing, a disk full), or kiln. */
  source?: ErrorSource;
  /** Where: `file:line:column`, a JSON path, a resource ID. */
  where?: string;
  /** What to do about it, one sentence. */
  hint?: string;
  /** More problems of the same kind, reported together (e.g. every template error at once). */
  details?: string[];
  cause?: unknown;
}

/** The base of every error kiln throws on purpose. `code` is stable and machine-readable. */
export class KilnError extends Error {
  readonly code: string;
  readonly source: ErrorSource;
  readonly where: string | undefined;
  readonly hint: string | undefined;
  readonly details: string[];

  constructor(code: string, message: string, options: KilnErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'KilnError';
    this.code = code;
    this.source = options.source ?? 'internal';
    this.where = options.where;
    this.hint = options.hint;
    this.details = options.details ?? [];
  }
}

/** An error the user caused and can fix: exit code 1, no stack trace. */
export class UserError extends KilnError {
  constructor(code: string, message: string, options: Omit<KilnErrorOptions, 'source'> = {}) {
    super(code, message, { ...options, source: 'user' });
    this.name = 'UserError';
  }
}

/** The machine is missing something or failed (a tool, a disk, a network): exit code 1. */
export class SystemError extends KilnError {
  constructor(code: string, message: string, options: Omit<KilnErrorOptions, 'source'> = {}) {
    super(code, message, { ...options, source: 'system' });
    this.name = 'SystemError';
  }
}

/** The run was cancelled (SIGINT, SIGTERM or an AbortSignal). */
export class CancelledError extends KilnError {
  constructor(message = 'cancelled', options: Omit<KilnErrorOptions, 'source'> = {}) {
    super('Cancelled', message, { ...options, source: 'user' });
    this.name = 'CancelledError';
  }
}

/** Whether `err` (or an error it was caused by) is a full disk or quota: ENOSPC, EDQUOT, SQLITE_FULL. */
export function isDiskFull(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL') return true;
    if (e instanceof KilnError && e.code === 'DiskFull') return true;
  }
  return false;
}

/**
 * The one error for a file system that filled up while kiln wrote `what` under `dir`, or
 * `err` unchanged when it is something else.
 */
export function diskFullError(err: unknown, what: string, dir: string): unknown {
  if (!isDiskFull(err) || (err instanceof KilnError && err.code === 'DiskFull')) return err;
  return new SystemError(
    'DiskFull',
    `no space left on the file system of ${dir} while writing ${what}`,
    {
      cause: err,
      hint: 'free space there, or set KILN_HOME to a larger file system; nothing half-written was kept',
    },
  );
}

/** Throws a CancelledError when the signal is aborted; call it between blocking waits. */
export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new CancelledError(reasonText(signal.reason));
}

function reasonText(reason: unknown): string {
  if (reason instanceof Error) return reason.message;
  if (typeof reason === 'string') return reason;
  return 'cancelled';
}

/** Formats an error as the one block a user sees (no stack unless KILN_DEBUG is set). */
export function formatError(err: unknown): string {
  if (err instanceof KilnError) {
    const lines = [err.where ? `${err.where}: ${err.message}` : err.message];
    for (const d of err.details) lines.push(`  ${d.replace(/\n/g, '\n  ')}`);
    if (err.hint) lines.push(`hint: ${err.hint}`);
    return lines.join('\n');
  }
  if (err instanceof Error) return `internal error: ${err.message}`;
  return `internal error: ${String(err)}`;
}
