/**
 * The seed's two AWS commands through the compiled CLI against moto: `kiln build
 * -machine-readable` of a build template, then of a release template with
 * `-var source_ami=…`. Checks the artifact lines exactly as Packer prints them, the
 * manifest, the lineage in the catalog, that the secret key never shows, and that no
 * temporary resource remains.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/index.js';
import { kiln } from './helpers/kiln.js';
import { awsEnv, motoLinuxAmi, resourcesOfRun, useMotoWithProxy } from './helpers/moto.js';

const SECRET = 'moto-secret-"$x\'y';
const aws = useMotoWithProxy();
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiln-aws-cli-'));
  return () => rm(dir, { recursive: true, force: true });
});

function template(name: string, sourceAmi: string, extra: Record<string, unknown> = {}) {
  return {
    variables: { source_ami: sourceAmi, aws_secret_key: SECRET },
    'sensitive-variables': ['aws_secret_key'],
    builders: [
      {
        type: 'amazon-ebs',
        region: 'us-east-1',
        access_key: 'AKIAKILNTEST',
        secret_key: '{{user `aws_secret_key`}}',
        source_ami: '{{user `source_ami`}}',
        instance_type: 't3.micro',
        communicator: 'none',
        ami_name: `${name}-{{timestamp}}`,
        tags: { Name: name },
        aws_polling: { delay_seconds: 1, max_attempts: 30 },
        ...extra,
      },
    ],
    provisioners: [{ type: 'shell-local', inline: [`echo provisioning ${name}`] }],
    'post-processors': [{ type: 'manifest', output: join(dir, `${name}-manifest.json`) }],
  };
}

async function kilnBuild(file: string, vars: string[] = []) {
  // No credentials in the environment: the template's access_key/secret_key must be used.
  const env: Record<string, string> = { ...awsEnv(aws.proxy.url), KILN_HOME: join(dir, 'home') };
  env.AWS_ACCESS_KEY_ID = '';
  env.AWS_SECRET_ACCESS_KEY = '';
  return kiln(['build', '-machine-readable', ...vars, file], { env, cwd: dir });
}

describe('kiln build with amazon-ebs (CLI, moto)', () => {
  it('build then release: artifact lines as Packer prints them, manifest, lineage, no secret, nothing left', async () => {
    const base = await motoLinuxAmi();
    await writeFile(
      join(dir, 'build.json'),
      JSON.stringify(template('hello-web-build', base, { ami_regions: ['us-west-2'] })),
    );
    const b = await kilnBuild('build.json');
    expect(b.code, b.stderr + b.stdout).toBe(0);
    const idLine = b.stdout.split('\n').find((l) => /^\d+,amazon-ebs,artifact,0,id,/.test(l))!;
    expect(idLine).toMatch(
      /,artifact,0,id,us-east-1:ami-[0-9a-f]{17}%!\(PACKER_COMMA\)us-west-2:ami-[0-9a-f]{17}$/,
    );
    expect(b.stdout).toMatch(/^\d+,amazon-ebs,artifact,0,builder-id,mitchellh\.amazonebs$/m);
    expect(b.stdout).toMatch(/^\d+,amazon-ebs,artifact,0,files-count,0$/m);
    expect(b.stdout).toMatch(/provisioning hello-web-build/);
    const buildAmi = /us-east-1:(ami-[0-9a-f]+)/.exec(idLine)![1]!;
    const manifest = JSON.parse(await readFile(join(dir, 'hello-web-build-manifest.json'), 'utf8'));
    expect(manifest.builds[0].artifact_id).toMatch(
      new RegExp(`^us-east-1:${buildAmi},us-west-2:ami-`),
    );
    expect(manifest.builds[0].builder_type).toBe('amazon-ebs');

    await writeFile(
      join(dir, 'release.json'),
      JSON.stringify(template('hello-web-release', 'unset')),
    );
    const r = await kilnBuild('release.json', ['-var', `source_ami=${buildAmi}`]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const releaseAmi = /,artifact,0,id,us-east-1:(ami-[0-9a-f]+)$/m.exec(r.stdout)![1]!;

    for (const out of [b.stdout, b.stderr, r.stdout, r.stderr]) {
      expect(out).not.toContain(SECRET);
      expect(out).not.toContain('moto-secret');
    }
    const catalog = Catalog.open(join(dir, 'home'));
    try {
      expect(catalog.images.lineage(releaseAmi).map((i) => i.id)).toEqual([releaseAmi, buildAmi]);
      expect(JSON.stringify(catalog.images.list())).not.toContain('moto-secret');
    } finally {
      catalog.close();
    }
    // Both runs: the AMIs stay, nothing temporary does.
    const runIds = new Set(
      aws.proxy.calls
        .filter((c) => c.action === 'RunInstances')
        .map((c) => {
          const [key] = [...c.params].find(
            ([k, v]) => /^TagSpecification\.1\.Tag\.\d+\.Key$/.test(k) && v === 'kiln:run-id',
          )!;
          return c.params.get(key.replace(/Key$/, 'Value'))!;
        }),
    );
    expect(runIds.size).toBe(2);
    for (const runId of runIds) {
      const left = await resourcesOfRun(runId, ['us-east-1', 'us-west-2']);
      expect(left.instances).toEqual([]);
      expect(left.keyPairs).toEqual([]);
      expect(left.securityGroups).toEqual([]);
    }
  });

  it('an unknown amazon-ebs key is rejected before any AWS call', async () => {
    const t = template('typo', 'ami-12345678') as { builders: Array<Record<string, unknown>> };
    t.builders[0]!.ami_nmae = 'x';
    await writeFile(join(dir, 'typo.json'), JSON.stringify(t));
    const r = await kilnBuild('typo.json');
    expect(r.code).toBe(1);
    expect(r.stdout + r.stderr).toMatch(/ami_nmae/);
    expect(aws.proxy.calls).toHaveLength(0);
  });
});
