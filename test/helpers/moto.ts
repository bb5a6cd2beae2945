/**
 * A real moto server for the AWS tests: `moto_server` on 127.0.0.1 and a free port, its
 * state reset between tests. moto is required, never optional: when it is missing the
 * tests fail loudly with how to install it (CI must not skip the AWS suite).
 */
import { afterAll, beforeAll, beforeEach } from 'vitest';
import { CancelledError } from '../../src/lib/errors.js';
import { haveCommand, run } from '../../src/lib/exec.js';
import { type FaultProxy, startFaultProxy } from './fault-proxy.js';
import { freePort } from './sshd.js';

export const MOTO_INSTALL_HINT =
  "moto_server is required for the AWS tests: pip install 'moto[server]' (moto 5.x)";

export interface TestMoto {
  url: string;
  port: number;
  /** Forgets every resource (POST /moto-api/reset). */
  reset(): Promise<void>;
  log(): string;
  stop(): Promise<void>;
}

/** Throws with the install hint when moto_server is not on PATH. */
export async function requireMoto(): Promise<void> {
  if (!(await haveCommand('moto_server'))) throw new Error(MOTO_INSTALL_HINT);
}

/** Starts moto_server and resolves once it answers HTTP. */
export async function startMoto(): Promise<TestMoto> {
  await requireMoto();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const stopper = new AbortController();
  let log = '';
  let exitedEarly = false;
  const proc = run('moto_server', ['-H', '127.0.0.1', '-p', String(port)], {
    signal: stopper.signal,
    killGraceMs: 2000,
    reject: false,
    onStderr: (line) => {
      log += `${line}\n`;
    },
    onStdout: (line) => {
      log += `${line}\n`;
    },
  })
    .then((r) => {
      exitedEarly = true;
      return r;
    })
    .catch((err) => {
      if (!(err instanceof CancelledError)) throw err;
      return undefined;
    });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exitedEarly) throw new Error(`moto_server exited early: ${log}`);
    try {
      const res = await fetch(`${url}/moto-api/`, { signal: AbortSignal.timeout(1000) });
      if (res.status < 500) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      stopper.abort();
      throw new Error(`moto_server did not answer on ${url} within 30 s: ${log}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    port,
    async reset() {
      const res = await fetch(`${url}/moto-api/reset`, { method: 'POST' });
      if (!res.ok) throw new Error(`moto reset failed: ${res.status}`);
    },
    log: () => log,
    async stop() {
      stopper.abort();
      await proc.catch(() => {});
    },
  };
}

/** Environment that points the AWS SDK (and a kiln child process) at `url` with dummy credentials. */
export function awsEnv(url: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: url,
    AWS_ACCESS_KEY_ID: 'testing',
    AWS_SECRET_ACCESS_KEY: 'testing',
    AWS_REGION: 'us-east-1',
    AWS_DEFAULT_REGION: 'us-east-1',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    // Never pick up the machine's own AWS config in tests.
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
}

/** What a build run left in AWS (by kiln's run tag): what "nothing left" must find empty. */
export interface RunResources {
  instances: string[];
  keyPairs: string[];
  securityGroups: string[];
  images: string[];
  snapshots: string[];
}

/**
 * Lists what carries `runId` in `regions`, read straight from the EC2 API (not through
 * kiln's code): live instances, key pairs, security groups, AMIs and snapshots.
 */
export async function resourcesOfRun(runId: string, regions: string[]): Promise<RunResources> {
  const ec2mod = await import('@aws-sdk/client-ec2');
  const out: RunResources = {
    instances: [],
    keyPairs: [],
    securityGroups: [],
    images: [],
    snapshots: [],
  };
  const has = (tags: Array<{ Key?: string; Value?: string }> | undefined) =>
    (tags ?? []).some((t) => t.Key === 'kiln:run-id' && t.Value === runId);
  for (const region of regions) {
    const ec2 = new ec2mod.EC2Client({ region, maxAttempts: 1 });
    const inst = await ec2.send(new ec2mod.DescribeInstancesCommand({}));
    for (const i of (inst.Reservations ?? []).flatMap((r) => r.Instances ?? []))
      if (has(i.Tags) && i.State?.Name !== 'terminated') out.instances.push(i.InstanceId!);
    for (const k of (await ec2.send(new ec2mod.DescribeKeyPairsCommand({}))).KeyPairs ?? [])
      if (has(k.Tags)) out.keyPairs.push(k.KeyName!);
    for (const g of (await ec2.send(new ec2mod.DescribeSecurityGroupsCommand({}))).SecurityGroups ??
      [])
      if (has(g.Tags)) out.securityGroups.push(g.GroupId!);
    for (const i of (await ec2.send(new ec2mod.DescribeImagesCommand({ Owners: ['self'] })))
      .Images ?? [])
      if (has(i.Tags)) out.images.push(`${region}:${i.ImageId}`);
    for (const s of (await ec2.send(new ec2mod.DescribeSnapshotsCommand({ OwnerIds: ['self'] })))
      .Snapshots ?? [])
      if (has(s.Tags)) out.snapshots.push(`${region}:${s.SnapshotId}`);
    ec2.destroy();
  }
  return out;
}

/** A Linux AMI that moto ships, to build from. */
export async function motoLinuxAmi(region = 'us-east-1'): Promise<string> {
  const ec2mod = await import('@aws-sdk/client-ec2');
  const ec2 = new ec2mod.EC2Client({ region });
  const res = await ec2.send(new ec2mod.DescribeImagesCommand({ Owners: ['amazon'] }));
  ec2.destroy();
  const img = (res.Images ?? []).find(
    (i) => i.Platform?.toLowerCase() !== 'windows' && /amzn|ubuntu|debian/i.test(i.Name ?? ''),
  );
  if (!img?.ImageId) throw new Error('moto lists no Linux AMI');
  return img.ImageId;
}

export interface AmazonRun {
  runId: string;
  artifact?: import('../../src/core/plugin.js').Artifact;
  error?: unknown;
  events: import('../../src/core/events.js').UiEvent[];
  /** Every ui line, for assertions on what a user saw. */
  text(): string;
  generated: Record<string, unknown>;
}

/**
 * Runs the amazon-ebs builder as the build runner would: the schema and prepare checks
 * first, then `run` with a fresh run id, a memory Ui and the given provision hook.
 */
export async function runAmazonEbs(
  raw: Record<string, unknown>,
  opts: {
    kilnHome: string;
    signal?: AbortSignal;
    provision?: (
      comm: import('../../src/communicator/communicator.js').Communicator | undefined,
    ) => Promise<void>;
    runId?: string;
  },
): Promise<AmazonRun> {
  const { amazonEbs } = await import('../../src/builders/amazon/plugin.js');
  const { BuildUi, MemoryUi } = await import('../../src/core/events.js');
  const { Secrets } = await import('../../src/core/secrets.js');
  const { randomBytes } = await import('node:crypto');
  const { Catalog } = await import('../../src/catalog/index.js');
  const secrets = new Secrets();
  const ui = new MemoryUi(secrets);
  const runId = opts.runId ?? `run-${randomBytes(16).toString('hex')}`;
  const generated: Record<string, unknown> = {};
  const result: AmazonRun = {
    runId,
    events: ui.events,
    generated,
    text: () =>
      ui.events
        .map((e) => (e.type === 'ui' ? `${e.level}: ${e.text}` : ''))
        .filter(Boolean)
        .join('\n'),
  };
  using catalog = Catalog.open(opts.kilnHome);
  try {
    const config = amazonEbs.schema.parse({ type: 'amazon-ebs', ...raw });
    const prep = await amazonEbs.prepare!(config, {
      buildName: 'amazon-ebs',
      buildType: 'amazon-ebs',
      templateDir: process.cwd(),
      kilnHome: opts.kilnHome,
      catalog,
    });
    if (prep.errors.length > 0)
      throw new Error(prep.errors.map((e) => `${e.key}: ${e.message}`).join('; '));
    result.artifact = await amazonEbs.run(
      config,
      {
        buildName: 'amazon-ebs',
        buildType: 'amazon-ebs',
        templateDir: process.cwd(),
        kilnHome: opts.kilnHome,
        catalog,
        signal: opts.signal ?? new AbortController().signal,
        ui: new BuildUi(ui, 'amazon-ebs'),
        rootUi: ui,
        secrets,
        force: false,
        onError: 'cleanup',
        runId,
        interpolate: (t) => t,
        generated,
      },
      { run: async (comm) => opts.provision?.(comm) },
    );
  } catch (err) {
    result.error = err;
  }
  return result;
}

/**
 * For one test file: moto behind the fault proxy, the SDK pointed at the proxy, both reset
 * before each test and stopped after the file. Call it at the top of the file, before the
 * file's own hooks, so its reset runs first.
 */
export function useMotoWithProxy(): { readonly moto: TestMoto; readonly proxy: FaultProxy } {
  const aws = {} as { moto: TestMoto; proxy: FaultProxy };
  beforeAll(async () => {
    aws.moto = await startMoto();
    aws.proxy = await startFaultProxy(aws.moto.url);
    Object.assign(process.env, awsEnv(aws.proxy.url));
  });
  afterAll(async () => {
    await aws.proxy?.close();
    await aws.moto?.stop();
  });
  beforeEach(async () => {
    await aws.moto.reset();
    aws.proxy.clear();
  });
  return aws;
}
