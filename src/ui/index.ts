/**
 * Picks the presenter for a command: Packer's human lines, Packer's machine-readable
 * stream, or JSON lines. The library emits events; only these turn them into text.
 */
import type { Ui } from '../core/events.js';
import type { Secrets } from '../core/secrets.js';
import { HumanUi, shouldColor } from './human.js';
import { JsonLinesUi } from './json-lines.js';
import { MachineReadableUi } from './machine-readable.js';

export { HumanUi, shouldColor } from './human.js';
export { JsonLinesUi } from './json-lines.js';
export { escapeField, MachineReadableUi, unescapeField } from './machine-readable.js';
export { prefixLines } from './prefix.js';

export type OutputMode = 'human' | 'machine-readable' | 'json';

export interface StreamLike {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface CreateUiOptions {
  mode: OutputMode;
  secrets: Secrets;
  stdout: StreamLike;
  stderr: StreamLike;
  env?: NodeJS.ProcessEnv;
  /** `-color=false` turns colour off even on a terminal. */
  color?: boolean;
  timestampUi?: boolean;
}

/** Builds the Ui for `mode`, writing to the given streams. */
export function createUi(opts: CreateUiOptions): Ui {
  const out = (c: string): void => void opts.stdout.write(c);
  const err = (c: string): void => void opts.stderr.write(c);
  switch (opts.mode) {
    case 'machine-readable':
      return new MachineReadableUi({
        write: out,
        secrets: opts.secrets,
        timestampUi: opts.timestampUi,
      });
    case 'json':
      return new JsonLinesUi({ write: out, secrets: opts.secrets });
    case 'human':
      return new HumanUi({
        out,
        err,
        secrets: opts.secrets,
        color: shouldColor(opts.stderr, opts.env ?? process.env, opts.color ?? true),
        progress: opts.stderr.isTTY === true,
        columns: opts.stderr.columns,
        timestampUi: opts.timestampUi,
      });
  }
}
