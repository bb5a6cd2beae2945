/**
 * Picks the presenter for a command: Packer's human lines, Packer's machine-readable
 * stream, or JSON lines. The library emits events; only these turn them into text.
 */
import type { Writable } from 'node:stream';
import yoctoSpinner from 'yocto-spinner';
import type { Ui } from '../core/events.js';
import type { Secrets } from '../core/secrets.js';
import { HumanUi, shouldColor } from './human.js';
import { JsonLinesUi } from './json-lines.js';
import { MachineReadableUi } from './machine-readable.js';

export { formatElapsed, HumanUi, type Spinner, shouldColor } from './human.js';
export { JsonLinesUi } from './json-lines.js';
export { escapeField, MachineReadableUi, unescapeField } from './machine-readable.js';
export { prefixLines } from './prefix.js';

export type OutputMode = 'human' | 'machine-readable' | 'json';

export interface StreamLike {
  write(chunk: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/**
 * True when a spinner may redraw its line on `stream`: a terminal, TERM not `dumb`, and
 * not a CI runner (CI logs keep every frame). The spinner library decides the same way.
 */
export function isInteractive(stream: StreamLike, env: NodeJS.ProcessEnv): boolean {
  return stream.isTTY === true && env.TERM !== 'dumb' && !('CI' in env);
}

/** Whether a Ui has a spinner or timer to stop when its command ends. */
export function closeUi(ui: Ui): void {
  (ui as { close?: () => void }).close?.();
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
    case 'human': {
      const env = opts.env ?? process.env;
      const color = shouldColor(opts.stderr, env, opts.color ?? true);
      const tty = isInteractive(opts.stderr, env);
      return new HumanUi({
        out,
        err,
        secrets: opts.secrets,
        color,
        progress: tty ? 'spinner' : 'lines',
        // yocto-spinner (sindresorhus; one dependency): it clears and redraws its line
        // around everything else written to the terminal. Signals stay kiln's: its own
        // handler would exit before the cleanups ran.
        ...(tty
          ? {
              spinner: (text: string) =>
                yoctoSpinner({
                  text,
                  stream: opts.stderr as unknown as Writable,
                  handleSignals: false,
                }).start(),
            }
          : {}),
        timestampUi: opts.timestampUi,
      });
    }
  }
}
