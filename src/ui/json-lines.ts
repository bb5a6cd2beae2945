/**
 * `--output json`: every event as one JSON object per line on stdout, lossless — its
 * type, a timestamp in milliseconds, the build (when it has one) and all its fields —
 * with every string redacted. Waits (spinners) are left out.
 */
import type { Ui, UiEvent } from '../core/events.js';
import type { Secrets } from '../core/secrets.js';

export interface JsonLinesOptions {
  write(chunk: string): void;
  secrets: Secrets;
  now?: () => number;
}

/** A Ui writing one JSON object per event. */
export class JsonLinesUi implements Ui {
  readonly secrets: Secrets;
  private readonly opts: JsonLinesOptions;

  constructor(opts: JsonLinesOptions) {
    this.opts = opts;
    this.secrets = opts.secrets;
  }

  emit(event: UiEvent): void {
    // A wait is presentation (a spinner, a heartbeat line): what it waited for is reported
    // by the events that follow it.
    if (event.type === 'wait') return;
    const { type, ...fields } = event;
    const record = { type, timestamp: this.opts.now ? this.opts.now() : Date.now(), ...fields };
    this.opts.write(`${JSON.stringify(this.secrets.redactDeep(record))}\n`);
  }
}
