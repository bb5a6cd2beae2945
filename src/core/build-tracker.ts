/**
 * What each running build is doing and which cleanups it still owes, so that a second
 * Ctrl-C, which exits at once, can name exactly what it leaves behind.
 */

interface BuildState {
  phase: string;
  /** Step names whose cleanup has not run yet (from runSteps' onCleanupPending). */
  pending: string[];
  cleaningUp: boolean;
  done: boolean;
}

export class BuildTracker {
  private readonly builds = new Map<string, BuildState>();

  /** A build started. */
  start(build: string): void {
    this.builds.set(build, { phase: 'builder', pending: [], cleaningUp: false, done: false });
  }

  /** The build entered a new phase (`provisioner 2 (shell-local)`, `post-processor manifest`). */
  phase(build: string, phase: string): void {
    const s = this.builds.get(build);
    if (s) s.phase = phase;
  }

  /** The cleanups a build still has to run (empty once all ran). */
  pending(build: string, names: readonly string[]): void {
    const s = this.builds.get(build);
    if (!s) return;
    s.pending = [...names];
    s.cleaningUp = names.length > 0;
  }

  /** A build ended (its cleanups ran). */
  finish(build: string): void {
    const s = this.builds.get(build);
    if (s) {
      s.done = true;
      s.pending = [];
    }
  }

  /** One line per unfinished build naming what a forced exit leaves behind. */
  leftovers(): string[] {
    const lines: string[] = [];
    for (const [name, s] of this.builds) {
      if (s.done) continue;
      if (s.pending.length > 0) {
        lines.push(
          `build '${name}' (stopped during ${s.phase}): not cleaned up: ${s.pending.join(', ')}`,
        );
      } else {
        lines.push(
          `build '${name}': stopped during ${s.phase}; its temporary files and processes may remain`,
        );
      }
    }
    return lines;
  }
}
