/**
 * `kiln pipeline` on the sample system, with real VMs (QEMU under TCG, Ansible, the .deb):
 * a first run builds, tests and deploys; a second reuses every image; a port change in one
 * environment rebuilds that release only; a change to the service rebuilds the build image
 * and every release; a release whose service cannot start fails its smoke test, is marked
 * failed and is not deployed. The sample is copied (with a nonce in the service, so this
 * run's images are its own) and two environments keep the VM count down; the cases run in
 * order and reuse each other's images.
 */
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/index.js';
import { listInstanceStatuses, stopInstance } from '../src/runtime/index.js';
import { kiln } from './helpers/kiln.js';
import { ensureBase, HOME, ROOT } from './qemu-helpers.js';

const GROUP = `pl-${process.pid}`;
const DEPLOY_PORT = 20000 + (process.pid % 5000) * 2;
let work: string;
let app: string;
const made = new Set<string>();

interface Row {
  type: string;
  step: string;
  environment?: string;
  image?: string;
  outcome: string;
  message?: string;
}

interface Run {
  code: number | null;
  rows: Row[];
  summary: { ok: boolean; failure?: { step: string; environment?: string; message: string } };
  stderr: string;
  wallMs: number;
}

function pipelineFile(over: Record<string, unknown> = {}): void {
  const config = {
    package: { command: 'sh package/build-deb.sh', artifact: 'dist/hello-web_1.0.0_all.deb' },
    build: { template: 'packer/packer-build.json' },
    release: { template: 'packer/packer-release.json' },
    environments: {
      dev: { var_file: 'environments/dev.json' },
      prod: { var_file: 'environments/prod.json' },
    },
    smoke_test: {
      port: '{{user `http_port`}}',
      path: '/',
      expect_status: 200,
      expect_body: 'Hello world on port {{user `http_port`}}',
      timeout: '4m',
    },
    deploy: {
      environment: 'dev',
      local: { group: GROUP, count: 1, port: DEPLOY_PORT, health_path: '/healthz' },
    },
    ...over,
  };
  writeFileSync(join(app, 'kiln.pipeline.json'), `${JSON.stringify(config, null, 2)}\n`);
}

async function kilnPipeline(args: string[] = []): Promise<Run> {
  const start = Date.now();
  const r = await kiln(['pipeline', '--output', 'json', '--parallel', '2', ...args], {
    cwd: app,
    home: HOME,
    env: { SOURCE_DATE_EPOCH: '1700000000' },
  });
  const objs = r.stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Row & Run['summary']);
  const rows = objs.filter((o) => o.type === 'step');
  for (const x of rows) if (x.image?.startsWith('img-')) made.add(x.image);
  return {
    code: r.code,
    rows,
    summary: objs.find((o) => (o as { type: string }).type === 'summary')!,
    stderr: r.stderr,
    wallMs: Date.now() - start,
  };
}

const row = (run: Run, step: string, env?: string) => {
  const r = run.rows.find((x) => x.step === step && x.environment === env);
  if (!r)
    throw new Error(
      `no ${step} ${env ?? ''} row in ${JSON.stringify(run.rows)}\n${run.stderr.slice(-3000)}`,
    );
  return r;
};

function get(port: number, path = '/'): Promise<string> {
  return new Promise((resolve, reject) => {
    request({ host: '127.0.0.1', port, path, timeout: 5000 }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve(body));
    })
      .on('error', reject)
      .end();
  });
}

/** The host port of the group's running member: a rolling deploy moves it within the group's ports. */
function groupPort(): number {
  const catalog = Catalog.open(HOME);
  try {
    const running = listInstanceStatuses(catalog, { group: GROUP }).filter(
      (m) => m.state === 'running',
    );
    expect(running).toHaveLength(1);
    const port = running[0]!.instance.ports[0]!.host;
    expect(port).toBeGreaterThanOrEqual(DEPLOY_PORT);
    return port;
  } finally {
    catalog.close();
  }
}

const timings: string[] = [];
let first: Run;

beforeAll(async () => {
  await ensureBase();
  work = mkdtempSync(join(tmpdir(), 'kiln-pipeline-sample-'));
  app = join(work, 'examples', 'hello-web');
  mkdirSync(app, { recursive: true });
  // dist/ is not in git: the pipeline's package step makes it. Copy what a checkout has.
  for (const d of ['service', 'package', 'packer', 'environments', 'package.json'])
    cpSync(join(ROOT, 'examples/hello-web', d), join(app, d), { recursive: true });
  rmSync(join(app, 'service/dist'), { recursive: true, force: true });
  // build-deb.sh compiles with the repository's TypeScript (<repo>/node_modules).
  symlinkSync(join(ROOT, 'node_modules'), join(work, 'node_modules'));
  appendFileSync(
    join(app, 'service/src/app.ts'),
    `\n// pipeline test run ${process.pid}-${Date.now()}\n`,
  );
  pipelineFile();
});

afterAll(async () => {
  const catalog = Catalog.open(HOME);
  try {
    for (const s of listInstanceStatuses(catalog, { all: true, group: GROUP }))
      await stopInstance(catalog, s.instance.id, { timeoutMs: 0 }).catch(() => {});
    // Leaves first: a build image goes once its releases are gone.
    for (let pass = 0; pass < 3; pass++)
      for (const i of catalog.images.list().filter((x) => made.has(x.id)))
        try {
          catalog.images.remove(i.id);
        } catch {}
  } finally {
    catalog.close();
  }
  process.stderr.write(`pipeline-sample timings:\n  ${timings.join('\n  ')}\n`);
});

describe('kiln pipeline on examples/hello-web', () => {
  it('first run: builds, releases both environments, smoke-tests them, deploys dev', async () => {
    first = await kilnPipeline();
    timings.push(`first run: ${(first.wallMs / 1000).toFixed(1)} s`);
    expect(first.summary, first.stderr.slice(-4000)).toEqual({ type: 'summary', ok: true });
    expect(first.code).toBe(0);
    expect(row(first, 'package').outcome).toBe('passed');
    expect(row(first, 'build').outcome).toBe('built');
    for (const env of ['dev', 'prod']) {
      expect(row(first, 'release', env).outcome).toBe('built');
      expect(row(first, 'smoke_test', env)).toMatchObject({
        outcome: 'tested',
        image: row(first, 'release', env).image,
      });
    }
    expect(row(first, 'deploy', 'dev')).toMatchObject({
      outcome: 'deployed',
      image: row(first, 'release', 'dev').image,
    });
    expect(await get(groupPort())).toBe('Hello world on port 8080\n');
    // Releases are children of this run's build image, which is a child of the base.
    const catalog = Catalog.open(HOME);
    try {
      // Nothing in the pipeline builds from a release: no saved VM state for one; the build
      // image keeps its own (the releases resumed it).
      const warmOf = (id: string) =>
        existsSync(join(dirname(catalog.images.get(id)!.files[0]!), 'warm', 'meta.json'));
      expect(warmOf(row(first, 'build').image!)).toBe(true);
      for (const env of ['dev', 'prod'])
        expect(warmOf(row(first, 'release', env).image!)).toBe(false);
      expect(first.stderr).toMatch(/nothing will be built from it \(a pipeline’s release\)/);
      const lineage = catalog.images.lineage(row(first, 'release', 'prod').image!).map((i) => i.id);
      expect(lineage.slice(0, 2)).toEqual([
        row(first, 'release', 'prod').image,
        row(first, 'build').image,
      ]);
      expect(catalog.images.get(row(first, 'build').image!)!.inputHash).toMatch(
        /^sha256:[0-9a-f]{64}$/,
      );
    } finally {
      catalog.close();
    }
  });

  it('second run with no change rebuilds nothing and reports every image as reused', async () => {
    const run = await kilnPipeline();
    timings.push(`no-change run: ${(run.wallMs / 1000).toFixed(1)} s`);
    expect(run.summary.ok, run.stderr.slice(-4000)).toBe(true);
    expect(row(run, 'build')).toMatchObject({
      outcome: 'reused',
      image: row(first, 'build').image,
    });
    for (const env of ['dev', 'prod'])
      expect(row(run, 'release', env)).toMatchObject({
        outcome: 'reused',
        image: row(first, 'release', env).image,
      });
    expect(row(run, 'deploy', 'dev')).toMatchObject({
      outcome: 'deployed',
      message: 'already serving',
    });
    expect(run.stderr).toMatch(
      /==> build: Reusing img-[0-9a-f]{17} \(inputs unchanged: sha256 [0-9a-f]{12}\)/,
    );
  });

  it('a port change in one environment rebuilds exactly that release', async () => {
    writeFileSync(
      join(app, 'environments/prod.json'),
      '{"environment": "prod", "http_port": "8082"}\n',
    );
    const run = await kilnPipeline();
    timings.push(`one-environment change: ${(run.wallMs / 1000).toFixed(1)} s`);
    expect(run.summary.ok, run.stderr.slice(-4000)).toBe(true);
    expect(row(run, 'build')).toMatchObject({
      outcome: 'reused',
      image: row(first, 'build').image,
    });
    expect(row(run, 'release', 'dev')).toMatchObject({
      outcome: 'reused',
      image: row(first, 'release', 'dev').image,
    });
    const prod = row(run, 'release', 'prod');
    expect(prod.outcome).toBe('built');
    expect(prod.image).not.toBe(row(first, 'release', 'prod').image);
    expect(row(run, 'smoke_test', 'prod')).toMatchObject({ outcome: 'tested', image: prod.image });
    expect(row(run, 'smoke_test', 'prod').message).toBeUndefined(); // booted, not remembered
  });

  it('a change to the service rebuilds the build image and every release, and deploys the new dev release', async () => {
    appendFileSync(join(app, 'service/src/app.ts'), '// a change to the service\n');
    const run = await kilnPipeline();
    timings.push(`service change: ${(run.wallMs / 1000).toFixed(1)} s`);
    expect(run.summary.ok, run.stderr.slice(-4000)).toBe(true);
    expect(row(run, 'build').outcome).toBe('built');
    expect(row(run, 'build').image).not.toBe(row(first, 'build').image);
    for (const env of ['dev', 'prod']) {
      expect(row(run, 'release', env).outcome).toBe('built');
      expect(row(run, 'release', env).image).not.toBe(row(first, 'release', env).image);
    }
    expect(row(run, 'deploy', 'dev')).toMatchObject({
      outcome: 'deployed',
      image: row(run, 'release', 'dev').image,
    });
    expect(run.rows.find((r) => r.step === 'deploy')!.message).toBeUndefined();
    expect(await get(groupPort())).toBe('Hello world on port 8080\n');
  });

  it('a release whose service cannot start fails its smoke test, is marked failed and is not deployed', async () => {
    // Port 22 is sshd's: the service exits with EADDRINUSE, and nothing answers HTTP there.
    writeFileSync(
      join(app, 'environments/prod.json'),
      '{"environment": "prod", "http_port": "22"}\n',
    );
    pipelineFile({
      smoke_test: { port: '{{user `http_port`}}', path: '/', expect_status: 200, timeout: '75s' },
      deploy: {
        environment: 'prod',
        local: { group: GROUP, count: 1, port: DEPLOY_PORT, health_path: '/healthz' },
      },
    });
    const run = await kilnPipeline(['--env', 'prod']);
    expect(run.code).toBe(1);
    expect(run.summary.failure).toMatchObject({ step: 'smoke_test', environment: 'prod' });
    const release = row(run, 'release', 'prod');
    expect(release.outcome).toBe('built');
    expect(row(run, 'smoke_test', 'prod')).toMatchObject({
      outcome: 'failed',
      image: release.image,
    });
    expect(run.rows.some((r) => r.step === 'deploy')).toBe(false);
    expect(run.stderr).toMatch(
      /pipeline failed at step smoke_test \(prod\): img-[0-9a-f]{17} failed its smoke test/,
    );
    const catalog = Catalog.open(HOME);
    try {
      expect(catalog.images.get(release.image!)!.status).toBe('failed');
      // The group still runs the dev release deployed before.
      const members = listInstanceStatuses(catalog, { group: GROUP });
      expect(members.map((m) => m.instance.imageId)).not.toContain(release.image);
    } finally {
      catalog.close();
    }
    expect(await get(groupPort())).toBe('Hello world on port 8080\n');
  });
});
