import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Catalog } from '../catalog/index.js';
import { formatGoDuration, humanDuration } from '../lib/duration.js';
import { KilnError } from '../lib/errors.js';
import { runBuilds } from './build.js';
import { MemoryUi, type UiEvent } from './events.js';
import { goQuote } from './go-quote.js';
import type {
  LoadedTemplate,
  PreparedBuild,
  PreparedPostProcessor,
  PreparedProvisioner,
} from './loaded-template.js';
import type {
  Artifact,
  BuildContext,
  BuilderPlugin,
  PostProcessorPlugin,
  ProvisionerPlugin,
} from './plugin.js';
import { Secrets } from './secrets.js';
import { runSteps } from './steps.js';

const loc = { file: 'template.json', line: 1, column: 1 };

function artifact(id: string, log: string[]): Artifact {
  return {
    builderId: `test.${id}`,
    id,
    string: `artifact ${id}`,
    files: [`${id}.out`],
    async destroy() {
      log.push(`destroy ${id}`);
    },
  };
}

/** A builder with two steps that log their run and cleanup, and the provision hook between them. */
function builder(log: string[]): BuilderPlugin<unknown> {
  return {
    type: 'fake',
    builderId: 'test.fake',
    schema: undefined as never,
    async run(_c, ctx, hook) {
      await runSteps(
        [
          {
            name: 'create-disk',
            run: async () => void log.push('run create-disk'),
            cleanup: async () => void log.push('cleanup create-disk'),
          },
          {
            name: 'start-vm',
            run: async () => void log.push('run start-vm'),
            cleanup: async () => void log.push('cleanup start-vm'),
          },
          { name: 'provision', run: async () => hook.run(undefined) },
        ],
        {},
        { signal: ctx.signal, ui: ctx.ui },
        {
          onError: ctx.onError,
          cleanupSignal: ctx.cleanupSignal,
          onCleanupPending: ctx.onCleanupPending,
        },
      );
      return artifact('base', log);
    },
  };
}

/** A provisioner that runs `behaviour` with its attempt number. */
function provisioner(
  name: string,
  log: string[],
  behaviour: (attempt: number) => Promise<void> | void,
): ProvisionerPlugin<unknown> {
  let attempt = 0;
  return {
    type: 'fake-prov',
    schema: undefined as never,
    async provision(_c, ctx) {
      attempt++;
      log.push(`provision ${name} #${attempt}`);
      ctx.ui.message(`${name} attempt ${attempt}`);
      await behaviour(attempt);
    },
  };
}

function prov(
  index: number,
  plugin: ProvisionerPlugin<unknown>,
  extra: Partial<PreparedProvisioner> = {},
): PreparedProvisioner {
  return {
    type: plugin.type,
    plugin,
    config: {},
    asWritten: {},
    loc,
    resolve: () => ({}),
    index,
    pauseBeforeMs: 0,
    maxRetries: 0,
    timeoutMs: 0,
    ...extra,
  };
}

function pp(
  id: string,
  log: string[],
  result: { keep: boolean; forceOverride: boolean; fail?: boolean },
  extra: Partial<PreparedPostProcessor> = {},
): PreparedPostProcessor {
  const plugin: PostProcessorPlugin<unknown> = {
    type: `pp-${id}`,
    schema: undefined as never,
    async postProcess(_c, input) {
      log.push(`pp ${id} <- ${input.id}`);
      if (result.fail) throw new KilnError('PPBroke', `pp ${id} broke`);
      return {
        artifact: artifact(id, log),
        keep: result.keep,
        forceOverride: result.forceOverride,
      };
    },
  };
  return {
    type: plugin.type,
    plugin,
    config: {},
    asWritten: {},
    loc,
    resolve: () => ({}),
    ...extra,
  };
}

function build(name: string, log: string[], parts: Partial<PreparedBuild> = {}): PreparedBuild {
  const b = builder(log);
  return {
    name,
    type: 'fake',
    builder: { type: 'fake', plugin: b, config: {}, asWritten: {}, loc, resolve: () => ({}) },
    provisioners: [],
    postProcessors: [],
    interpolate: (t) => t,
    ...parts,
  };
}

function template(builds: PreparedBuild[], extra: Partial<LoadedTemplate> = {}): LoadedTemplate {
  return {
    path: 't.json',
    dir: '.',
    variables: {},
    sensitiveVariables: [],
    sensitiveValues: [],
    volatileVariables: {},
    isVolatile: () => false,
    initTime: new Date(0),
    builds,
    warnings: [],
    ...extra,
  };
}

function texts(events: UiEvent[]): string[] {
  return events.flatMap((e) =>
    e.type === 'ui' ? [`${e.level}|${e.build ?? ''}|${e.text}`] : [`${e.type}`],
  );
}

async function go(t: LoadedTemplate, opts: Partial<Parameters<typeof runBuilds>[1]> = {}) {
  const ui = new MemoryUi(new Secrets());
  let now = 0;
  const result = await runBuilds(t, {
    ui,
    catalog: Catalog.openReadOnly('/nonexistent'),
    clock: () => (now += 1.5),
    ...opts,
  });
  return { ui, result, lines: texts(ui.events) };
}

describe('runBuilds', () => {
  it('runs the steps, the provisioners between them, then cleans up in reverse', async () => {
    const log: string[] = [];
    const p = provisioner('p1', log, () => {});
    const { result, lines, ui } = await go(
      template([build('b', log, { provisioners: [prov(0, p)] })]),
    );
    expect(result.exitCode).toBe(0);
    expect(log).toEqual([
      'run create-disk',
      'run start-vm',
      'provision p1 #1',
      'cleanup start-vm',
      'cleanup create-disk',
    ]);
    expect(lines).toContain('message|b|p1 attempt 1');
    expect(lines.some((l) => /^say\|\|Build 'b' finished after \d/.test(l))).toBe(true);
    expect(lines).toContain('say||\n==> Builds finished. The artifacts of successful builds are:');
    const arts = ui.events.filter((e) => e.type === 'artifact');
    expect(arts).toEqual([
      {
        type: 'artifact',
        build: 'b',
        index: 0,
        artifact: {
          builderId: 'test.base',
          id: 'base',
          string: 'artifact base',
          files: ['base.out'],
        },
      },
    ]);
  });

  it('on a provisioner failure runs the error-cleanup-provisioner, then the cleanups, and reports the error', async () => {
    const log: string[] = [];
    const bad = provisioner('bad', log, () => {
      throw new KilnError(
        'X',
        'Script exited with non-zero exit status: 3.Allowed exit codes are: [0]',
      );
    });
    const never = provisioner('never', log, () => {});
    const cleanup = provisioner('cleanup', log, () => {});
    const { result, lines, ui } = await go(
      template([
        build('b', log, {
          provisioners: [prov(0, bad), prov(1, never)],
          errorCleanupProvisioner: prov(0, cleanup),
        }),
      ]),
    );
    expect(result.exitCode).toBe(1);
    expect(log).toEqual([
      'run create-disk',
      'run start-vm',
      'provision bad #1',
      'provision cleanup #1',
      'cleanup start-vm',
      'cleanup create-disk',
    ]);
    expect(lines).toContain(
      'say|b|Provisioning step had errors: Running the cleanup provisioner, if present...',
    );
    expect(lines.find((l) => l.includes("Build 'b' errored after"))).toMatch(
      /^error\|\|Build 'b' errored after .*: Script exited with non-zero exit status: 3\.Allowed exit codes are: \[0\]$/,
    );
    expect(ui.events.filter((e) => e.type !== 'ui' && e.type !== 'wait')).toEqual([
      { type: 'error-count', count: 1 },
      {
        type: 'build-error',
        build: 'b',
        message: 'Script exited with non-zero exit status: 3.Allowed exit codes are: [0]',
      },
    ]);
    expect(lines.at(-1)).toBe('say||\n==> Builds finished but no artifacts were created.');
  });

  it('names both errors when the error-cleanup-provisioner fails too', async () => {
    const log: string[] = [];
    const bad = provisioner('bad', log, () => {
      throw new KilnError('X', 'first');
    });
    const cleanup = provisioner('cleanup', log, () => {
      throw new KilnError('Y', 'second');
    });
    const { ui } = await go(
      template([
        build('b', log, {
          provisioners: [prov(0, bad)],
          errorCleanupProvisioner: prov(0, cleanup),
        }),
      ]),
    );
    expect(ui.events).toContainEqual({
      type: 'build-error',
      build: 'b',
      message: 'Cleanup failed: second. Original Provisioning error: first',
    });
  });

  it('retries as Packer 1.6.6: quotes the first error each time and returns it at the end', async () => {
    const log: string[] = [];
    const flaky = provisioner('flaky', log, (n) => {
      throw new KilnError('X', `failure "${n}"`);
    });
    const { lines, ui } = await go(
      template([build('b', log, { provisioners: [prov(0, flaky, { maxRetries: 2 })] })]),
    );
    expect(log.filter((l) => l.startsWith('provision'))).toEqual([
      'provision flaky #1',
      'provision flaky #2',
      'provision flaky #3',
    ]);
    expect(lines.filter((l) => l.startsWith('say|b|'))).toEqual([
      'say|b|Provisioner failed with "failure \\"1\\"", retrying with 2 trie(s) left',
      'say|b|Provisioner failed with "failure \\"1\\"", retrying with 1 trie(s) left',
      'say|b|retry limit reached.',
      'say|b|Provisioning step had errors: Running the cleanup provisioner, if present...',
    ]);
    expect(ui.events).toContainEqual({ type: 'build-error', build: 'b', message: 'failure "1"' });
  });

  it('stops retrying once an attempt succeeds', async () => {
    const log: string[] = [];
    const flaky = provisioner('flaky', log, (n) => {
      if (n < 2) throw new KilnError('X', 'not yet');
    });
    const { result } = await go(
      template([build('b', log, { provisioners: [prov(0, flaky, { maxRetries: 5 })] })]),
    );
    expect(result.exitCode).toBe(0);
    expect(log.filter((l) => l.startsWith('provision'))).toEqual([
      'provision flaky #1',
      'provision flaky #2',
    ]);
  });

  it('pauses before (and then ignores timeout, as Packer does)', async () => {
    const log: string[] = [];
    const p = provisioner('p', log, () => {});
    const { lines } = await go(
      template([
        build('b', log, { provisioners: [prov(0, p, { pauseBeforeMs: 10, timeoutMs: 5000 })] }),
      ]),
    );
    expect(lines).toContain('say|b|Pausing 10ms before the next provisioner...');
    expect(lines.some((l) => l.includes('timeout for the next provisioner'))).toBe(false);
  });

  it('cancels a provisioner that outlives its timeout', async () => {
    const log: string[] = [];
    // A provisioner that only ends when its signal aborts:
    const honest: ProvisionerPlugin<unknown> = {
      type: 'slow',
      schema: undefined as never,
      provision: (_c, ctx) =>
        new Promise((_r, reject) =>
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true }),
        ),
    };
    const { lines, ui } = await go(
      template([build('b', log, { provisioners: [prov(0, honest, { timeoutMs: 20 })] })]),
    );
    expect(lines).toContain('say|b|Setting a 20ms timeout for the next provisioner...');
    expect(lines).toContain('error|b|Cancelling provisioner after a timeout...');
    expect(ui.events).toContainEqual({
      type: 'build-error',
      build: 'b',
      message: 'provisioner 1 (slow) timed out after 20ms',
    });
  });

  it('with -on-error=abort skips the error-cleanup-provisioner and the cleanups', async () => {
    const log: string[] = [];
    const bad = provisioner('bad', log, () => {
      throw new KilnError('X', 'nope');
    });
    const cleanup = provisioner('cleanup', log, () => {});
    const { result, lines } = await go(
      template([
        build('b', log, {
          provisioners: [prov(0, bad)],
          errorCleanupProvisioner: prov(0, cleanup),
        }),
      ]),
      { onError: 'abort' },
    );
    expect(result.exitCode).toBe(1);
    expect(log).toEqual(['run create-disk', 'run start-vm', 'provision bad #1']);
    expect(
      lines.some((l) => /-on-error=abort leaves its resources in place: .*start-vm/.test(l)),
    ).toBe(true);
  });

  it('keeps or destroys artifacts by Packer 1.6.6 rules', async () => {
    const log: string[] = [];
    // Chain 1: first pp does not keep → builder artifact destroyed (unless another chain keeps it).
    // Chain 2: a keeps (user overrides to false but forceOverride wins), b discards a.
    const { result } = await go(
      template([
        build('b', log, {
          postProcessors: [
            [pp('one', log, { keep: false, forceOverride: false })],
            [
              pp('a', log, { keep: true, forceOverride: true }, { keepInputArtifact: false }),
              pp('c', log, { keep: false, forceOverride: false }),
            ],
          ],
        }),
      ]),
    );
    const arts = result.builds[0]!.artifacts!.map((a) => a.id);
    expect(arts).toEqual(['base', 'one', 'c']);
    expect(log.filter((l) => l.startsWith('pp') || l.startsWith('destroy'))).toEqual([
      'pp one <- base',
      'pp a <- base',
      'pp c <- a',
      'destroy a',
    ]);
  });

  it('destroys the builder artifact when no chain keeps it, and honours keep_input_artifact', async () => {
    const log: string[] = [];
    const { result } = await go(
      template([
        build('x', log, {
          postProcessors: [[pp('one', log, { keep: false, forceOverride: false })]],
        }),
        build('y', log, {
          postProcessors: [
            [pp('two', log, { keep: false, forceOverride: false }, { keepInputArtifact: true })],
          ],
        }),
      ]),
      { parallelBuilds: 1 },
    );
    expect(result.builds.map((b) => b.artifacts!.map((a) => a.id))).toEqual([
      ['one'],
      ['base', 'two'],
    ]);
    expect(log.filter((l) => l.startsWith('destroy'))).toEqual(['destroy base']);
  });

  it("fails the build with Packer's multi-error text when a post-processor fails, and skips the rest of its chain", async () => {
    const log: string[] = [];
    const { ui } = await go(
      template([
        build('b', log, {
          postProcessors: [
            [
              pp('bad', log, { keep: true, forceOverride: true, fail: true }),
              pp('never', log, { keep: true, forceOverride: true }),
            ],
          ],
        }),
      ]),
    );
    expect(log).not.toContain('pp never <- base');
    expect(ui.events).toContainEqual({
      type: 'build-error',
      build: 'b',
      message: '1 error(s) occurred:\n\n* Post-processor failed: pp bad broke',
    });
  });

  it('names post-processors as Packer does', async () => {
    const log: string[] = [];
    const { lines } = await go(
      template([
        build('b', log, {
          postProcessors: [
            [pp('m', log, { keep: true, forceOverride: true }, { name: 'mine' })],
            [pp('n', log, { keep: true, forceOverride: true })],
          ],
        }),
      ]),
    );
    expect(lines).toContain('say|b|Running post-processor: mine (type pp-m)');
    expect(lines).toContain('say|b|Running post-processor: pp-n');
  });

  it('runs builds one at a time with parallelBuilds=1 and all at once with 0', async () => {
    for (const [parallel, expected] of [
      [1, 1],
      [0, 3],
    ] as const) {
      let running = 0;
      let most = 0;
      const gate = (): ProvisionerPlugin<unknown> => ({
        type: 'gate',
        schema: undefined as never,
        async provision() {
          running++;
          most = Math.max(most, running);
          await new Promise((r) => setTimeout(r, 5));
          running--;
        },
      });
      const log: string[] = [];
      const builds = ['a', 'b', 'c'].map((n) => build(n, log, { provisioners: [prov(0, gate())] }));
      const { result } = await go(template(builds), { parallelBuilds: parallel });
      expect(result.exitCode).toBe(0);
      expect(most).toBe(expected);
    }
  });

  it('on interrupt stops the provisioner, runs the cleanups, skips post-processors and exits 1', async () => {
    const log: string[] = [];
    const ac = new AbortController();
    const waiting: ProvisionerPlugin<unknown> = {
      type: 'wait',
      schema: undefined as never,
      provision: (_c, ctx) =>
        new Promise((_r, reject) => {
          log.push('waiting');
          setTimeout(() => ac.abort(), 1);
          ctx.signal.addEventListener('abort', () => reject(new Error('stopped')), { once: true });
        }),
    };
    const cleanup = provisioner('cleanup', log, () => {});
    const { result, lines } = await go(
      template([
        build('b', log, {
          provisioners: [prov(0, waiting)],
          errorCleanupProvisioner: prov(0, cleanup),
          postProcessors: [[pp('never', log, { keep: true, forceOverride: true })]],
        }),
      ]),
      { signal: ac.signal },
    );
    expect(result.cancelled).toBe(true);
    expect(result.exitCode).toBe(1);
    expect(log).toEqual([
      'run create-disk',
      'run start-vm',
      'waiting',
      'cleanup start-vm',
      'cleanup create-disk',
    ]);
    expect(lines.at(-1)).toBe('say||Cleanly cancelled builds after being interrupted.');
  });

  it('registers sensitive variables as secrets of the Ui', async () => {
    const { ui } = await go(
      template([], { variables: { pw: 'sw0rdfish-value' }, sensitiveVariables: ['pw'] }),
    );
    expect(ui.secrets.contains('x sw0rdfish-value y')).toBe(true);
  });

  it("gives the builder the template's path and variables to record, a sensitive value never", async () => {
    let seen: BuildContext['recipe'];
    const recording: BuilderPlugin<unknown> = {
      ...builder([]),
      async run(_c, ctx) {
        seen = ctx.recipe;
        return undefined;
      },
    };
    await go(
      template(
        [
          build('a', [], {
            builder: {
              type: 'fake',
              plugin: recording,
              config: {},
              asWritten: {},
              loc,
              resolve: () => ({}),
            },
          }),
        ],
        {
          path: 'sub/t.json',
          variables: { pw: 'sw0rdfish-value', port: '8080', note: 'has sw0rdfish-value inside' },
          sensitiveVariables: ['pw'],
        },
      ),
    );
    expect(seen).toEqual({
      templatePath: resolve('sub/t.json'),
      variables: { pw: '<sensitive>', port: '8080', note: 'has <sensitive> inside' },
    });
  });
});

describe('Packer spellings', () => {
  it('humanDuration is durafmt with two units', () => {
    expect(humanDuration(25_121.4)).toBe('25 seconds 121 milliseconds');
    expect(humanDuration(11.6591)).toBe('11 milliseconds 659 microseconds');
    expect(humanDuration(1_000)).toBe('1 second');
    expect(humanDuration(61_000.001)).toBe('1 minute 1 second');
    expect(humanDuration(3_600_000 * 25)).toBe('1 day 1 hour');
    expect(humanDuration(0)).toBe('0 seconds');
  });

  it('formatGoDuration is time.Duration.String()', () => {
    expect(formatGoDuration(1000)).toBe('1s');
    expect(formatGoDuration(90_000)).toBe('1m30s');
    expect(formatGoDuration(500)).toBe('500ms');
    expect(formatGoDuration(1500)).toBe('1.5s');
    expect(formatGoDuration(3_600_000)).toBe('1h0m0s');
    expect(formatGoDuration(0)).toBe('0s');
  });

  it('goQuote is %q', () => {
    expect(goQuote('a "b"\n\\')).toBe('"a \\"b\\"\\n\\\\"');
    expect(goQuote('\x1b')).toBe('"\\x1b"');
  });
});
