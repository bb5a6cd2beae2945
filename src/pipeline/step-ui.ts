/**
 * The Ui a pipeline step hands to what it runs (a build, a command, an instance): every
 * event becomes a progress line named after the step (`release dev`), so parallel releases
 * stay readable and nothing but the pipeline's own summary reaches stdout.
 */
import { BuildUi, type Ui, type UiEvent } from '../core/events.js';
import type { Secrets } from '../core/secrets.js';

/** Forwards a sub-run's events to `parent` as the step's lines; shares its secrets. */
export class StepUi implements Ui {
  readonly secrets: Secrets;
  /** The same step as a BuildUi, for code that takes one. */
  readonly build: BuildUi;

  constructor(
    private readonly parent: Ui,
    readonly step: string,
  ) {
    this.secrets = parent.secrets;
    this.build = new BuildUi(this, step);
  }

  emit(event: UiEvent): void {
    const name = this.step;
    switch (event.type) {
      case 'ui': {
        // A build's own summary lines ("==> Wait completed…", "Builds finished…") are the
        // pipeline's to summarise.
        if (event.build === undefined && event.level === 'say') return;
        const text = event.text.replace(/^\n+/, '');
        this.parent.emit({ type: 'ui', level: event.level, build: name, text });
        return;
      }
      case 'progress':
      case 'wait':
        this.parent.emit({ ...event, build: name });
        return;
      case 'build-error':
        this.parent.emit({ type: 'ui', level: 'error', build: name, text: event.message });
        return;
      case 'artifact':
        this.parent.emit({
          type: 'ui',
          level: 'message',
          build: name,
          text: `artifact: ${event.artifact.id}`,
        });
        return;
      default:
        return;
    }
  }
}
