/**
 * Runs the shell steps of a GitHub Actions workflow or a GitLab CI pipeline on this machine,
 * in the order the CI would (jobs by `needs` / stages, steps in order), each job in a fresh
 * checkout as a runner gives it. What a CI service does between the steps is done here the
 * way its documentation says: GitHub's `$GITHUB_OUTPUT`, `$GITHUB_PATH`, job outputs and
 * `${{ needs.<job>.outputs.<name> }}` / `${{ steps.<id>.outputs.<name> }}`, `defaults.run`,
 * bash as `bash --noprofile --norc -eo pipefail`, `actions/checkout`,
 * `actions/upload-artifact` and `actions/download-artifact`; GitLab's `variables`,
 * `default.before_script`, `set -eo pipefail`, `artifacts.paths` handed to later stages and
 * `artifacts.reports.dotenv` turned into variables of later jobs. Anything else in a file
 * (another action, another expression) fails the run: the files stay within what is tested.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { run } from './kiln.js';

/** What one step (GitHub) or job script (GitLab) did. */
export interface StepRun {
  job: string;
  step: string;
  code: number | null;
  output: string;
}

export interface CiRun {
  steps: StepRun[];
  /** GitHub: each job's outputs; GitLab: the dotenv variables each job reported. */
  outputs: Record<string, Record<string, string>>;
  /** The jobs in the order they ran. */
  order: string[];
}

export interface CiOptions {
  /** Makes a fresh checkout of the repository in a new directory and returns it. */
  checkout: () => string;
  /** Added to every step's environment (KILN_HOME, SOURCE_DATE_EPOCH…). */
  env: Record<string, string>;
  /** Replaces workflow-level `env` / `variables` values (as a fork's settings would). */
  overrides?: Record<string, string>;
  /** Per step. */
  timeoutMs?: number;
  /** Called as each step ends (progress for a long test). */
  onStep?: (s: StepRun) => void;
}

type Yaml = Record<string, unknown>;

/** Jobs in an order that respects `depends` (file order among those ready). */
function ordered(names: string[], depends: (job: string) => string[]): string[] {
  const done: string[] = [];
  while (done.length < names.length) {
    const next = names.find((n) => !done.includes(n) && depends(n).every((d) => done.includes(d)));
    if (!next) throw new Error(`a cycle or an unknown job among needs: ${names.join(', ')}`);
    done.push(next);
  }
  return done;
}

async function shell(
  script: string,
  argv0: string[],
  cwd: string,
  env: Record<string, string>,
  timeoutMs: number,
): Promise<{ code: number | null; output: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-ci-step-'));
  const file = join(dir, 'step.sh');
  writeFileSync(file, script);
  // A CI runner's environment has nothing of this vitest process (the sample's own unit tests
  // start a vitest of their own).
  const ours = Object.fromEntries(
    Object.keys(process.env)
      .filter((k) => /^(VITEST|TEST$|NODE_ENV$)/.test(k))
      .map((k) => [k, undefined]),
  );
  const r = await run(argv0[0]!, [...argv0.slice(1), file], {
    cwd,
    env: { ...ours, ...env, PATH: env.PATH ?? process.env.PATH ?? '' },
    timeoutMs,
  });
  return { code: r.code, output: r.output };
}

/** `KEY=value` lines (GITHUB_OUTPUT, GITHUB_ENV, a dotenv report) as an object. */
function keyValues(path: string): Record<string, string> {
  if (!existsSync(path)) return {};
  const out: Record<string, string> = {};
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const m = /^([A-Za-z_][A-Za-z0-9_-]*)=(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
    else if (line.trim() !== '') throw new Error(`cannot read "${line}" in ${path}`);
  }
  return out;
}

/** Runs a GitHub Actions workflow file's jobs and steps. */
export async function runGithubWorkflow(file: string, opts: CiOptions): Promise<CiRun> {
  const wf = parse(readFileSync(file, 'utf8')) as Yaml;
  const jobs = wf.jobs as Record<string, Yaml>;
  const needsOf = (j: string) => {
    const n = jobs[j]!.needs;
    return n === undefined ? [] : Array.isArray(n) ? (n as string[]) : [n as string];
  };
  const order = ordered(Object.keys(jobs), needsOf);
  const defaults = ((wf.defaults as Yaml | undefined)?.run ?? {}) as Yaml;
  const wfEnv = { ...(wf.env as Record<string, string>), ...opts.overrides };
  const artifacts = mkdtempSync(join(tmpdir(), 'kiln-ci-artifacts-'));
  const result: CiRun = { steps: [], outputs: {}, order };

  for (const jobName of order) {
    const job = jobs[jobName]!;
    const workspace = opts.checkout();
    const runnerTemp = mkdtempSync(join(tmpdir(), 'kiln-ci-runner-temp-'));
    const stepOutputs: Record<string, Record<string, string>> = {};
    const paths: string[] = [];
    const jobEnv: Record<string, string> = {};
    const expr = (text: string) =>
      text.replace(/\$\{\{\s*([^}]+?)\s*\}\}/g, (_, e: string) => {
        let m = /^needs\.([\w-]+)\.outputs\.([\w-]+)$/.exec(e);
        if (m) {
          if (!needsOf(jobName).includes(m[1]!))
            throw new Error(`${jobName} reads needs.${m[1]} without needing it`);
          return result.outputs[m[1]!]?.[m[2]!] ?? '';
        }
        m = /^steps\.([\w-]+)\.outputs\.([\w-]+)$/.exec(e);
        if (m) return stepOutputs[m[1]!]?.[m[2]!] ?? '';
        throw new Error(`expression not supported by the test runner: ${e}`);
      });
    const envOf = (own: unknown): Record<string, string> =>
      Object.fromEntries(
        Object.entries((own ?? {}) as Record<string, string>).map(([k, v]) => [k, expr(String(v))]),
      );
    Object.assign(jobEnv, envOf(job.env));

    for (const [i, step] of ((job.steps ?? []) as Yaml[]).entries()) {
      const name = String(step.name ?? step.uses ?? step.run ?? `step ${i + 1}`).split('\n')[0]!;
      const uses = step.uses as string | undefined;
      const w = (step.with ?? {}) as Record<string, string>;
      if (uses !== undefined) {
        // The fresh workspace is the checkout; artifacts are copied to and from a store.
        if (/^actions\/checkout@/.test(uses)) continue;
        if (/^actions\/upload-artifact@/.test(uses)) {
          const src = join(workspace, w.path!);
          if (!existsSync(src))
            throw new Error(`${jobName}: upload-artifact: ${w.path} is missing`);
          cpSync(src, join(artifacts, w.name!), { recursive: true });
          continue;
        }
        if (/^actions\/download-artifact@/.test(uses)) {
          const dest = join(workspace, w.path ?? '.');
          mkdirSync(dirname(dest), { recursive: true });
          cpSync(join(artifacts, w.name!), dest, { recursive: true });
          continue;
        }
        throw new Error(`action not supported by the test runner: ${uses}`);
      }
      const script = step.run as string;
      const shellName = (step.shell ?? defaults.shell ?? 'bash') as string;
      if (shellName !== 'bash') throw new Error(`shell not supported: ${shellName}`);
      const cwd = join(
        workspace,
        String(step['working-directory'] ?? defaults['working-directory'] ?? '.'),
      );
      const outFile = join(runnerTemp, `output-${i}`);
      const pathFile = join(runnerTemp, `path-${i}`);
      writeFileSync(outFile, '');
      writeFileSync(pathFile, '');
      const env = {
        ...opts.env,
        ...wfEnv,
        ...jobEnv,
        ...envOf(step.env),
        CI: 'true',
        GITHUB_ACTIONS: 'true',
        GITHUB_WORKSPACE: workspace,
        GITHUB_OUTPUT: outFile,
        GITHUB_PATH: pathFile,
        RUNNER_TEMP: runnerTemp,
        PATH: [...paths, opts.env.PATH ?? process.env.PATH ?? ''].join(':'),
      };
      const r = await shell(
        expr(script),
        ['bash', '--noprofile', '--norc', '-eo', 'pipefail'],
        cwd,
        env,
        opts.timeoutMs ?? 900_000,
      );
      const s: StepRun = { job: jobName, step: name, ...r };
      result.steps.push(s);
      opts.onStep?.(s);
      if (r.code !== 0) return result;
      if (step.id) stepOutputs[String(step.id)] = keyValues(outFile);
      paths.unshift(
        ...readFileSync(pathFile, 'utf8')
          .split('\n')
          .filter((l) => l.trim() !== '')
          .reverse(),
      );
    }
    result.outputs[jobName] = Object.fromEntries(
      Object.entries((job.outputs ?? {}) as Record<string, string>).map(([k, v]) => [k, expr(v)]),
    );
  }
  return result;
}

const GITLAB_KEYWORDS = new Set([
  'stages',
  'variables',
  'default',
  'workflow',
  'include',
  'image',
  'services',
  'before_script',
  'after_script',
  'cache',
]);

/** Runs a GitLab CI file's jobs, stage by stage. */
export async function runGitlabPipeline(file: string, opts: CiOptions): Promise<CiRun> {
  const ci = parse(readFileSync(file, 'utf8')) as Yaml;
  const stages = ci.stages as string[];
  const names = Object.keys(ci).filter((k) => !GITLAB_KEYWORDS.has(k) && !k.startsWith('.'));
  const order = stages.flatMap((st) => names.filter((n) => (ci[n] as Yaml).stage === st));
  if (order.length !== names.length) throw new Error('a job has no stage listed in stages');
  const vars = { ...(ci.variables as Record<string, string>), ...opts.overrides };
  const before = ((ci.default as Yaml | undefined)?.before_script ?? []) as string[];
  const dotenv: Record<string, string> = {};
  const artifacts: string[] = [];
  const result: CiRun = { steps: [], outputs: {}, order };

  for (const jobName of order) {
    const job = ci[jobName] as Yaml;
    const project = opts.checkout();
    // Artifacts of earlier stages are restored into the job's checkout.
    for (const a of artifacts)
      cpSync(a, join(project, a.split('/artifacts/')[1]!), { recursive: true });
    const script = [
      'set -eo pipefail',
      ...((job.before_script as string[] | undefined) ?? before),
      ...(job.script as string[]),
    ].join('\n');
    const env = {
      ...opts.env,
      ...vars,
      ...((job.variables as Record<string, string> | undefined) ?? {}),
      ...dotenv,
      CI: 'true',
      GITLAB_CI: 'true',
      CI_PROJECT_DIR: project,
      CI_JOB_NAME: jobName,
    };
    const r = await shell(`${script}\n`, ['bash'], project, env, opts.timeoutMs ?? 900_000);
    const s: StepRun = { job: jobName, step: jobName, ...r };
    result.steps.push(s);
    opts.onStep?.(s);
    if (r.code !== 0) return result;
    const arts = (job.artifacts ?? {}) as Yaml;
    for (const p of (arts.paths ?? []) as string[]) {
      const store = join(mkdtempSync(join(tmpdir(), 'kiln-ci-gl-')), 'artifacts', p);
      if (!existsSync(join(project, p))) throw new Error(`${jobName}: artifact ${p} is missing`);
      cpSync(join(project, p), store, { recursive: true });
      artifacts.push(store);
    }
    const report = ((arts.reports ?? {}) as Yaml).dotenv as string | undefined;
    result.outputs[jobName] = report ? keyValues(join(project, report)) : {};
    Object.assign(dotenv, result.outputs[jobName]);
  }
  return result;
}
