/**
 * Reads ansible-playbook's default (human) output as it streams, to say which task failed
 * on which host: `TASK [name]` opens a task, `fatal: [host]: FAILED! => {json}` (or
 * UNREACHABLE!, or `failed: [host] (item=…)`) reports a failure, `...ignoring` takes it
 * back, and `ERROR! …` is a playbook-level error.
 */
export interface AnsibleFailure {
  task?: string;
  host?: string;
  /** `FAILED`, `UNREACHABLE` or `ERROR`. */
  kind: string;
  message: string;
}

export class AnsibleOutputWatcher {
  private task: string | undefined;
  private pending: AnsibleFailure | undefined;
  private errorLines: string[] | undefined;
  /** Failures that were not ignored, in order. */
  readonly failures: AnsibleFailure[] = [];

  /** Feeds one line of output (stdout or stderr). */
  line(text: string): void {
    const line = text.replace(/\x1b\[[0-9;]*m/g, '');
    if (this.errorLines) {
      if (line.trim() === '') {
        this.closeError();
      } else {
        this.errorLines.push(line.trim());
        return;
      }
    }
    if (/^\s*\.\.\.ignoring\s*$/.test(line)) {
      this.pending = undefined;
      return;
    }
    this.flush();
    const task = /^(?:TASK|RUNNING HANDLER) \[(.*)\]\s*\**\s*$/.exec(line);
    if (task) {
      // `TASK [role : name]`: keep what Ansible shows.
      this.task = task[1];
      return;
    }
    if (/^PLAY \[/.test(line)) {
      this.task = undefined;
      return;
    }
    const fatal =
      /^(?:fatal|failed): \[([^\]]+)\](?:: (FAILED|UNREACHABLE)!)?(?: \(item=.*?\))? => (.*)$/.exec(
        line,
      );
    if (fatal) {
      this.pending = {
        task: this.task,
        host: fatal[1],
        kind: fatal[2] ?? 'FAILED',
        message: messageOf(fatal[3] ?? ''),
      };
      return;
    }
    if (/^ERROR! /.test(line)) {
      this.errorLines = [line.slice('ERROR! '.length).trim()];
    }
  }

  /** Call at the end of output. */
  end(): void {
    this.closeError();
    this.flush();
  }

  /** The first failure worth naming, if any. */
  first(): AnsibleFailure | undefined {
    return this.failures[0];
  }

  private flush(): void {
    if (this.pending) this.failures.push(this.pending);
    this.pending = undefined;
  }

  private closeError(): void {
    if (!this.errorLines) return;
    this.failures.push({
      kind: 'ERROR',
      task: this.task,
      message: this.errorLines.slice(0, 6).join(' '),
    });
    this.errorLines = undefined;
  }
}

/** The `msg` of a result, else its stderr, else the raw text (shortened). */
export function messageOf(raw: string): string {
  const text = raw.trim();
  try {
    const v = JSON.parse(text) as Record<string, unknown>;
    for (const key of ['msg', 'stderr', 'reason']) {
      const m = v[key];
      if (typeof m === 'string' && m.trim() !== '') return shorten(m.trim());
    }
  } catch {
    // Not JSON (a callback plugin's format): show it as it is.
  }
  return shorten(text);
}

function shorten(s: string): string {
  return s.length > 500 ? `${s.slice(0, 500)}…` : s;
}
