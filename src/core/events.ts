/**
 * What the core tells the outside world. The library never prints: it emits events to
 * one Ui, and `ui/` turns them into Packer-style human lines, Packer's machine-readable
 * stream, or JSON lines. Tests assert on events, not on screen text.
 */
import type { Secrets } from './secrets.js';

export type UiEvent =
  /** `==> build: text` (say), `    build: text` (message), or an error line. No build: unprefixed. */
  | { type: 'ui'; level: 'say' | 'message' | 'error'; build?: string; text: string }
  /** A long wait or copy: shown as a progress bar on a TTY, never in machine-readable output. */
  | {
      type: 'progress';
      build?: string;
      label: string;
      current: number;
      total?: number;
      done?: boolean;
    }
  /**
   * A wait that may take a while (SSH, an HTTP health check, a step): `start`, then `end`
   * with the same id. On a terminal a spinner shows what is awaited and for how long;
   * elsewhere a plain line every few seconds of silence. Never in machine-readable or
   * JSON output.
   */
  | { type: 'wait'; id: number; build?: string; label: string; phase: 'start' | 'end' }
  | { type: 'artifact-count'; build: string; count: number }
  | { type: 'artifact'; build: string; index: number; artifact: ArtifactView }
  | { type: 'error-count'; count: number }
  /** The final error of one build, after `error-count`. */
  /** `where`: the failing part (`provisioner 2 (shell)`), shown by the human and JSON outputs only (Packer's stream has no place for it). */
  | { type: 'build-error'; build: string; message: string; where?: string }
  /** A free-form machine-readable record (`target,type,data…`), e.g. `version`. */
  | { type: 'record'; target: string; kind: string; data: string[] };

/** What an artifact shows to the outside (machine-readable `artifact,N,…` lines). */
export interface ArtifactView {
  builderId: string;
  id: string;
  string: string;
  files: string[];
}

/** The single seam between the library and whatever presents its events. */
export interface Ui {
  emit(event: UiEvent): void;
  /** Secrets to redact from everything this Ui writes. */
  readonly secrets: Secrets;
}

/** A Ui bound to one build's name: what steps and provisioners use. */
export class BuildUi {
  constructor(
    readonly ui: Ui,
    readonly build: string,
  ) {}

  /** A headline step: `==> build: text`. */
  say(text: string): void {
    this.ui.emit({ type: 'ui', level: 'say', build: this.build, text });
  }

  /** Detail or a program's output: `    build: text`. */
  message(text: string): void {
    this.ui.emit({ type: 'ui', level: 'message', build: this.build, text });
  }

  /** Something went wrong (which may still not fail the build). */
  error(text: string): void {
    this.ui.emit({ type: 'ui', level: 'error', build: this.build, text });
  }

  progress(label: string, current: number, total?: number, done?: boolean): void {
    this.ui.emit({ type: 'progress', build: this.build, label, current, total, done });
  }

  /** Runs `fn` as a wait the Ui shows with `label` (`waiting for SSH on …`) and its elapsed time. */
  wait<T>(label: string, fn: () => Promise<T>): Promise<T> {
    return waitFor(this.ui, label, fn, this.build);
  }
}

let nextWaitId = 1;

/** Runs `fn` between a `wait` start and end event: the end is emitted however `fn` ends. */
export async function waitFor<T>(
  ui: Ui,
  label: string,
  fn: () => Promise<T>,
  build?: string,
): Promise<T> {
  const id = nextWaitId++;
  const base = { type: 'wait' as const, id, label, ...(build !== undefined ? { build } : {}) };
  ui.emit({ ...base, phase: 'start' });
  try {
    return await fn();
  } finally {
    ui.emit({ ...base, phase: 'end' });
  }
}

/** A Ui that keeps events in memory: for tests and for library users. */
export class MemoryUi implements Ui {
  readonly events: UiEvent[] = [];
  constructor(readonly secrets: Secrets) {}
  emit(event: UiEvent): void {
    this.events.push(event);
  }
}
