/**
 * Packer 1.6.6's -machine-readable stream: `unix_seconds,target,type,data…` on stdout,
 * one record per line. Inside data, `,` becomes `%!(PACKER_COMMA)`, CR and LF become a
 * literal `\r` / `\n`. `ui` records have an empty target, as Packer writes them. Every
 * string is redacted before and after escaping (Packer 1.6.6 itself forgets to redact
 * this stream; kiln does not).
 */
import type { Ui, UiEvent } from '../core/events.js';
import type { Secrets } from '../core/secrets.js';
import { prefixLines, rfc3339 } from './prefix.js';

export interface MachineReadableOptions {
  /** Receives each complete line, newline included. */
  write(chunk: string): void;
  secrets: Secrets;
  /** Milliseconds since the epoch (tests pin it). */
  now?: () => number;
  /** `-timestamp-ui`: prefix build lines' text with an RFC 3339 time, as Packer does. */
  timestampUi?: boolean;
}

/** Escapes one data field the way Packer's MachineReadableUi does. */
export function escapeField(value: string): string {
  return value.replace(/,/g, '%!(PACKER_COMMA)').replace(/\r/g, '\\r').replace(/\n/g, '\\n');
}

/** Reverses `escapeField` (for tools reading the stream). */
export function unescapeField(value: string): string {
  return value
    .replace(/\\n/g, '\n')
    .replace(/\\r/g, '\r')
    .replace(/%!\(PACKER_COMMA\)/g, ',');
}

/** A Ui that writes Packer's machine-readable records. */
export class MachineReadableUi implements Ui {
  readonly secrets: Secrets;
  private readonly opts: MachineReadableOptions;

  constructor(opts: MachineReadableOptions) {
    this.opts = opts;
    this.secrets = opts.secrets;
  }

  emit(event: UiEvent): void {
    switch (event.type) {
      case 'ui': {
        let text = event.text;
        if (event.build !== undefined) {
          text = prefixLines(event.build, event.level !== 'message', text);
          // Packer's TimestampedUi sits inside TargetedUI: the time comes before the prefix.
          if (this.opts.timestampUi) text = `${rfc3339(new Date(this.now()))}: ${text}`;
        }
        this.record('', 'ui', [event.level, text]);
        return;
      }
      case 'progress':
      case 'wait':
        return; // Packer's machine-readable UI tracks no progress.
      case 'artifact-count':
        this.record(event.build, 'artifact-count', [String(event.count)]);
        return;
      case 'artifact': {
        const i = String(event.index);
        const a = event.artifact;
        this.record(event.build, 'artifact', [i, 'builder-id', a.builderId]);
        this.record(event.build, 'artifact', [i, 'id', a.id]);
        this.record(event.build, 'artifact', [i, 'string', a.string]);
        this.record(event.build, 'artifact', [i, 'files-count', String(a.files.length)]);
        for (const [k, f] of a.files.entries())
          this.record(event.build, 'artifact', [i, 'file', String(k), f]);
        this.record(event.build, 'artifact', [i, 'end']);
        this.record('', 'ui', ['say', `--> ${event.build}: ${a.string}`]);
        return;
      }
      case 'error-count':
        this.record('', 'error-count', [String(event.count)]);
        return;
      case 'build-error':
        this.record(event.build, 'error', [event.message]);
        this.record('', 'ui', ['error', `--> ${event.build}: ${event.message}`]);
        return;
      case 'record':
        this.record(event.target, event.kind, event.data);
        return;
    }
  }

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  private record(target: string, type: string, data: string[]): void {
    const s = this.secrets;
    const fields = data.map((d) => s.redact(escapeField(s.redact(d))));
    const ts = Math.floor(this.now() / 1000);
    this.opts.write(`${ts},${s.redact(target)},${type},${fields.join(',')}\n`);
  }
}
