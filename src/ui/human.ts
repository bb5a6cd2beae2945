/**
 * Packer's human output: `==> build: text` for headlines, `    build: text` for detail
 * and program output, each build in its own colour when (and only when) the stream is a
 * terminal and NO_COLOR is unset. Progress and messages go to stderr; the results — the
 * `--> build: artifact` lines — go to stdout, so `kiln build … > result` keeps only them.
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
  /** Draw progress bars (only ever on a terminal). */
  progress?: boolean;
  /** Terminal width for progress bars. */
  columns?: number;
  timestampUi?: boolean;
  now?: () => number;
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
  private bar: string | undefined;

  constructor(opts: HumanUiOptions) {
    this.opts = opts;
    this.secrets = opts.secrets;
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
        this.drawProgress(event);
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
    this.clearBar();
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

  private drawProgress(event: Extract<UiEvent, { type: 'progress' }>): void {
    if (!this.opts.progress) return;
    if (event.done) {
      this.clearBar();
      return;
    }
    const head = this.secrets.redact(
      `${event.build !== undefined ? `    ${event.build}: ` : ''}${event.label}`,
    );
    let tailText: string;
    if (event.total && event.total > 0) {
      const ratio = Math.min(1, Math.max(0, event.current / event.total));
      const width = Math.max(10, Math.min(40, (this.opts.columns ?? 80) - head.length - 12));
      const filled = Math.round(ratio * width);
      tailText = ` [${'='.repeat(filled)}${' '.repeat(width - filled)}] ${Math.floor(ratio * 100)}%`;
    } else {
      tailText = ` ${event.current}`;
    }
    this.bar = `${head}${tailText}`;
    this.opts.err(`\r\x1b[K${this.bar}`);
  }

  private clearBar(): void {
    if (this.bar === undefined) return;
    this.bar = undefined;
    this.opts.err('\r\x1b[K');
  }
}
