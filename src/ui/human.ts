/**
 * Packer's human output: `==> build: text` for headlines, `    build: text` for detail
 * and program output, each build in its own colour when (and only when) the stream is a
 * terminal and NO_COLOR is unset. Progress and messages go to stderr; the results — the
 * `--> build: artifact` lines — go to stdout, so `kiln build … > result` keeps only them.
 *
 * Waits and transfers (`wait` and `progress` events) show as one spinner line on a terminal
 * — what is awaited, per build, with the elapsed time and a transfer's percentage — drawn
 * by the spinner library the caller hands in; elsewhere as a plain line after every few
 * seconds of silence, so a CI log shows the run is alive without filling up.
 */
import type { Ui, UiEvent } from '../core/events.js';
import type { Secrets } from '../core/secrets.js';
import { prefixLines, rfc3339 } from './prefix.js';

export interface HumanUiOptions {
  /** Results (artifact lines). */
  out(chunk: string): void;
  /** Everything else. */
  err(chunk: string): void;
  secrets: Secrets;
  /** Colour the lines (decide with `shouldColor`). */
  color?: boolean;
  /**
   * How waits and transfers show: `spinner` (a terminal: `spinner` below draws it), `lines`
   * (a plain line after `quietMs` of silence), `off`. Default `off`.
   */
  progress?: 'spinner' | 'lines' | 'off';
  /** Starts the terminal spinner showing `text` (a well-kept library's, see ui/index.ts). */
  spinner?: (text: string) => Spinner;
  /** Silence after which `lines` mode says what is still awaited (default 5 s). */
  quietMs?: number;
  /** How often waits are looked at (default 1 s; tests pass less). */
  tickMs?: number;
  /** A wait shorter than this never shows (default 1 s). */
  showAfterMs?: number;
  timestampUi?: boolean;
  now?: () => number;
}

/** A spinner line on the terminal: its text can change; `stop` erases it. */
export interface Spinner {
  text: string;
  stop(): void;
}

/** Something awaited: a `wait` or a transfer that is not done. */
interface Pending {
  build: string | undefined;
  label: string;
  since: number;
  /** A transfer's progress: `45%` or a count. */
  detail?: string;
}

/** `9s`, `1m05s`, `1h02m`. */
export function formatElapsed(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/** Packer's build colours, in order: green, cyan, magenta, yellow, blue. */
const BUILD_COLORS = [32, 36, 35, 33, 34];
const RED = 31;

/** True when output to this stream should be coloured: a TTY, NO_COLOR unset, and not `-color=false`. */
export function shouldColor(
  stream: { isTTY?: boolean },
  env: NodeJS.ProcessEnv,
  flag = true,
): boolean {
  return (
    flag && stream.isTTY === true && !env.NO_COLOR && !env.PACKER_NO_COLOR && env.TERM !== 'dumb'
  );
}

/** A Ui printing Packer-style lines for people. */
export class HumanUi implements Ui {
  readonly secrets: Secrets;
  private readonly opts: HumanUiOptions;
  private readonly colors = new Map<string, number>();
  private readonly pending = new Map<string, Pending>();
  private ticker: NodeJS.Timeout | undefined;
  private spinner: Spinner | undefined;
  private lastWrite: number;

  constructor(opts: HumanUiOptions) {
    this.opts = opts;
    this.secrets = opts.secrets;
    this.lastWrite = this.now();
  }

  /** Announces the builds in template order so each keeps Packer's colour (optional). */
  announceBuilds(names: readonly string[]): void {
    for (const n of names) this.colorOf(n);
    if (this.opts.color && names.length > 0) {
      for (const n of names)
        this.line('err', `${n}: output will be in this color.`, this.colorOf(n), true);
      this.opts.err('\n');
    }
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
        const color =
          event.level === 'error'
            ? RED
            : event.build !== undefined
              ? this.colorOf(event.build)
              : undefined;
        this.line('err', text, color, event.level !== 'message');
        return;
      }
      case 'progress':
        this.onProgress(event);
        return;
      case 'wait':
        if (event.phase === 'start')
          this.track(`w${event.id}`, { build: event.build, label: event.label, since: this.now() });
        else this.untrack(`w${event.id}`);
        return;
      case 'artifact':
        this.line('out', `--> ${event.build}: ${event.artifact.string}`, undefined, false);
        return;
      case 'build-error':
        this.line(
          'err',
          `--> ${event.build}: ${event.where ? `${event.where}: ` : ''}${event.message}`,
          undefined,
          false,
        );
        return;
      case 'artifact-count':
      case 'error-count':
      case 'record':
        return; // Only machine-readable and JSON output carry these.
    }
  }

  private now(): number {
    return this.opts.now ? this.opts.now() : Date.now();
  }

  private colorOf(build: string): number {
    let c = this.colors.get(build);
    if (c === undefined) {
      c = BUILD_COLORS[this.colors.size % BUILD_COLORS.length]!;
      this.colors.set(build, c);
    }
    return c;
  }

  private line(
    stream: 'out' | 'err',
    text: string,
    color: number | undefined,
    bold: boolean,
  ): void {
    this.lastWrite = this.now();
    const safe = this.secrets.redact(text);
    const shown =
      this.opts.color && color !== undefined
        ? safe
            .split('\n')
            .map((l) => `\x1b[${bold ? 1 : 0};${color}m${l}\x1b[0m`)
            .join('\n')
        : safe;
    this.opts[stream](`${shown}\n`);
  }

  /** Erases the spinner and stops the timer (the command is ending): safe to call twice. */
  close(): void {
    this.pending.clear();
    this.stopTicker();
  }

  private onProgress(event: Extract<UiEvent, { type: 'progress' }>): void {
    const key = `p${event.build ?? ''}\0${event.label}`;
    if (event.done) {
      this.untrack(key);
      return;
    }
    const detail =
      event.total && event.total > 0
        ? `${Math.floor(Math.min(1, Math.max(0, event.current / event.total)) * 100)}%`
        : String(event.current);
    const had = this.pending.get(key);
    if (had) had.detail = detail;
    else this.track(key, { build: event.build, label: event.label, since: this.now(), detail });
  }

  private track(key: string, p: Pending): void {
    if ((this.opts.progress ?? 'off') === 'off') return;
    this.pending.set(key, p);
    if (this.ticker) return;
    this.ticker = setInterval(() => this.tick(), this.opts.tickMs ?? 1000);
    // A wait whose end never comes must not keep the process alive.
    this.ticker.unref();
  }

  private untrack(key: string): void {
    if (!this.pending.delete(key)) return;
    if (this.pending.size === 0) this.stopTicker();
    else if (this.spinner) this.spinner.text = this.describe(this.now()) ?? this.spinner.text;
  }

  private stopTicker(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = undefined;
    this.spinner?.stop();
    this.spinner = undefined;
  }

  private tick(): void {
    const now = this.now();
    const text = this.describe(now);
    if (text === undefined) return;
    if (this.opts.progress === 'spinner') {
      if (this.spinner) this.spinner.text = text;
      else if (this.opts.spinner) this.spinner = this.opts.spinner(text);
      return;
    }
    if (now - this.lastWrite < (this.opts.quietMs ?? 5000)) return;
    this.line('err', text, undefined, false);
  }

  /**
   * One line for what is awaited: per build the innermost (latest) wait, with its elapsed
   * time; undefined while nothing has lasted `showAfterMs`.
   */
  private describe(now: number): string | undefined {
    const latest = new Map<string, Pending>();
    let shown = false;
    for (const p of this.pending.values()) {
      latest.set(p.build || '', p);
      if (now - p.since >= (this.opts.showAfterMs ?? 1000)) shown = true;
    }
    if (!shown) return undefined;
    // A command-wide wait (the whole `build`) says less than any build's own.
    if (latest.size > 1) latest.delete('');
    const parts = [...latest.values()].map(
      (p) =>
        `${p.build ? `${p.build}: ` : ''}${p.label}${p.detail ? ` ${p.detail}` : ''} (${formatElapsed(now - p.since)})`,
    );
    const text = this.secrets.redact(parts.join('  ·  '));
    return this.opts.progress === 'lines' ? `    ${text}` : text;
  }
}
