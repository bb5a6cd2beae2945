/**
 * The sample's ready CI files (examples/hello-web/ci/): the GitHub Actions workflow and the
 * GitLab CI pipeline are parsed and their shell steps run in order on this machine, each job
 * in a fresh checkout (test/helpers/ci-runner.ts does what the CI service does between
 * steps). The six steps really run: the sample's unit tests, the peers' checks, the .deb,
 * `kiln build` of the build and release images (real VMs, or the catalog's images when their
 * inputs are unchanged), and a rolling `kiln deploy local` whose instances answer over HTTP.
 * The image IDs reach the later jobs only through -machine-readable output and the CI's own
 * outputs (GitHub job outputs, GitLab dotenv reports).
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Catalog } from '../src/catalog/index.js';
import { listInstanceStatuses, stopInstance } from '../src/runtime/index.js';
import {
  type CiRun,
  runGithubWorkflow,
  runGitlabPipeline,
  type StepRun,
} from './helpers/ci-runner.js';
import { ensureBase, HOME, ROOT } from './qemu-helpers.js';

const CI = join(ROOT, 'examples/hello-web/ci');
const GROUP = `ci-${process.pid}`;
const PORT = 14000 + (process.pid % 3000) * 2;
const SIX = [
  'unit-tests',
  'integration-tests',
  'package',
  'build-image',
  'release-image',
  'deploy',
];
const roots: string[] = [];

/** A fresh checkout: the sample copied as git has it; the installed kiln (node_modules, dist) linked. */
function checkout(): string {
  const root = mkdtempSync(join(tmpdir(), 'kiln-ci-checkout-'));
  roots.push(root);
  for (const f of [
    'node_modules',
    'dist',
    'bin',
    'package.json',
    'vitest.config.ts',
    'tsconfig.json',
  ])
    symlinkSync(join(ROOT, f), join(root, f));
  const app = join(root, 'examples/hello-web');
  mkdirSync(app, { recursive: true });
  for (const d of ['service', 'package', 'packer', 'environments', 'package.json', 'ci'])
    cpSync(join(ROOT, 'examples/hello-web', d), join(app, d), {
      recursive: true,
      // Made by the package step, not in git.
      filter: (src) => !/\/(service\/)?dist$/.test(src),
    });
  return root;
}

const options = {
  checkout,
  // The copies are no git checkout: build-deb.sh dates the .deb from this instead.
  env: { KILN_HOME: HOME, SOURCE_DATE_EPOCH: '1700000000' },
  overrides: { DEPLOY_GROUP: GROUP, DEPLOY_COUNT: '1', DEPLOY_PORT: String(PORT) },
  timeoutMs: 1_200_000,
  onStep: (s: StepRun) =>
    process.stderr.write(`ci-workflows: ${s.job} / ${s.step}: exit ${s.code}\n`),
};

function failed(r: CiRun): string {
  const bad = r.steps.find((s) => s.code !== 0);
  return bad ? `${bad.job} / ${bad.step} exited ${bad.code}:\n${bad.output.slice(-4000)}` : '';
}

/** The group's running members: [image id, host port]. */
function members(): Array<[string, number]> {
  using catalog = Catalog.open(HOME);
  return listInstanceStatuses(catalog, { group: GROUP })
    .filter((m) => m.state === 'running')
    .map((m) => [m.instance.imageId, m.instance.ports[0]!.host]);
}

beforeAll(async () => {
  await ensureBase();
});

afterAll(async () => {
  {
    using catalog = Catalog.open(HOME);
    for (const s of listInstanceStatuses(catalog, { all: true, group: GROUP }))
      await stopInstance(catalog, s.instance.id, { timeoutMs: 0 }).catch(() => {});
  }
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

describe('examples/hello-web/ci', () => {
  it('both files hold the six steps in order, passing image ids through -machine-readable output', () => {
    const gh = parse(readFileSync(join(CI, 'github-actions.yml'), 'utf8'));
    expect(Object.keys(gh.jobs)).toEqual(SIX);
    expect(gh.jobs['release-image'].needs).toBe('build-image');
    expect(gh.jobs['build-image'].outputs.image).toMatch(
      /^\$\{\{ steps\.build\.outputs\.image \}\}$/,
    );
    const gl = parse(readFileSync(join(CI, 'gitlab-ci.yml'), 'utf8'));
    expect(gl.stages).toEqual(SIX);
    for (const file of ['github-actions.yml', 'gitlab-ci.yml']) {
      const text = readFileSync(join(CI, file), 'utf8');
      expect(text.match(/kiln build -machine-readable/g), file).toHaveLength(2);
      expect(text.match(/grep ',artifact,0,id,' \w+\.log \| cut -d, -f6/g), file).toHaveLength(2);
    }
  });

  let built: { build: string; release: string };

  it('GitHub Actions: the six jobs run in order and deploy the release they built', async () => {
    const r = await runGithubWorkflow(join(CI, 'github-actions.yml'), options);
    expect(failed(r)).toBe('');
    expect(r.order).toEqual(SIX);
    const build = r.outputs['build-image']!.image!;
    const release = r.outputs['release-image']!.image!;
    expect(build).toMatch(/^img-[0-9a-f]{17}$/);
    expect(release).toMatch(/^img-[0-9a-f]{17}$/);
    {
      using catalog = Catalog.open(HOME);
      // The release job built on the id the build job passed on.
      expect(catalog.images.get(release)!.parentId).toBe(build);
    }
    const deploy = r.steps.find((s) => s.job === 'deploy' && s.step.startsWith('Deploy'))!;
    expect(deploy.output).toMatch(/127\.0\.0\.1:\d+: Hello world on port 8080/);
    expect(members()).toEqual([[release, expect.any(Number)]]);
    built = { build, release };
  });

  it('GitLab CI: the six stages run in order, reuse those images and roll the group onto them', async () => {
    expect(built, 'the GitHub Actions case runs first').toBeDefined();
    const r = await runGitlabPipeline(join(CI, 'gitlab-ci.yml'), options);
    expect(failed(r)).toBe('');
    expect(r.order).toEqual(SIX);
    // Same inputs, same catalog: the builds are reused and report the same ids.
    expect(r.outputs['build-image']).toEqual({ BUILD_IMAGE: built.build });
    expect(r.outputs['release-image']).toEqual({ RELEASE_IMAGE: built.release });
    const buildLog = r.steps.find((s) => s.job === 'build-image')!.output;
    expect(buildLog).toContain(`artifact,0,id,${built.build}`);
    const deploy = r.steps.find((s) => s.job === 'deploy')!.output;
    expect(deploy).toMatch(/127\.0\.0\.1:\d+: Hello world on port 8080/);
    expect(members()).toEqual([[built.release, expect.any(Number)]]);
  });
});
