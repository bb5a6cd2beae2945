/**
 * An error as the one JSON object `--output json` prints on stdout when a command fails, in
 * the shape of the JSON-lines events (`type`, `timestamp`): a script reading stdout learns
 * what went wrong without parsing stderr.
 */
import { CommanderError } from 'commander';
import { brokenInstallCause } from '../lib/broken-install.js';
import { KilnError } from '../lib/errors.js';

/** What `--output json` prints for a failure. */
export interface ErrorJson {
  type: 'error';
  timestamp: number;
  error: {
    /** Stable: a KilnError's code, commander's (`commander.unknownOption`), `BrokenInstall` or `InternalError`. */
    code: string;
    source: 'user' | 'system' | 'internal';
    message: string;
    where?: string;
    hint?: string;
    details?: string[];
  };
}

/** The JSON of a failure; undefined for commander's help and version "errors" (exit 0). */
export function errorJson(err: unknown, now = Date.now()): ErrorJson | undefined {
  const wrap = (error: ErrorJson['error']): ErrorJson => ({ type: 'error', timestamp: now, error });
  if (err instanceof CommanderError) {
    if (err.exitCode === 0) return undefined;
    return wrap({
      code: err.code,
      source: 'user',
      message: err.message.replace(/^error: /, '').replace(/\n/g, ' '),
    });
  }
  if (err instanceof KilnError) {
    return wrap({
      code: err.code,
      source: err.source,
      message: err.message,
      ...(err.where ? { where: err.where } : {}),
      ...(err.hint ? { hint: err.hint } : {}),
      ...(err.details.length > 0 ? { details: err.details } : {}),
    });
  }
  const install = brokenInstallCause(err);
  if (install !== undefined)
    return wrap({
      code: 'BrokenInstall',
      source: 'system',
      message: `kiln’s installation is broken: ${install}`,
      hint: 'run `kiln doctor`',
    });
  return wrap({
    code: 'InternalError',
    source: 'internal',
    message: err instanceof Error ? err.message : String(err),
  });
}
