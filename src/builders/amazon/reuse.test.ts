import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Catalog } from '../../catalog/index.js';
import type { ImageRecord } from '../../catalog/types.js';
import { computeInputHash } from '../../core/input-hash.js';
import { registry } from '../../plugins.js';
import { loadTemplate } from '../../template/index.js';
import { reusableArtifact } from './reuse.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function image(metadata: Record<string, unknown>): ImageRecord {
  return { id: 'ami-1', metadata } as unknown as ImageRecord;
}

/** The input hash of a one-builder amazon-ebs template in a fresh directory. */
async function hashOf(
  dir: string,
  builder: Record<string, unknown>,
  source?: string,
): Promise<string> {
  const path = join(dir, 'template.json');
  const base = { type: 'amazon-ebs', region: 'us-east-1', instance_type: 't3.micro' };
  const ami = { ami_name: 'web', ssh_username: 'admin' };
  writeFileSync(path, JSON.stringify({ builders: [{ ...base, ...ami, ...builder }] }));
  const home = join(dir, 'home');
  using catalog = Catalog.open(home);
  const loaded = await loadTemplate(path, { registry, catalog });
  return computeInputHash(loaded.builds[0]!, {
    template: loaded,
    catalog,
    ...(source ? { resolvedSource: { key: source } } : {}),
  }).hash;
}

describe('amazon-ebs reuse', () => {
  it('hashes the user_data_file content: an edited file makes a new AMI', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-reuse-'));
    dirs.push(dir);
    const file = join(dir, 'user-data.sh');
    writeFileSync(file, 'echo one\n');
    const one = await hashOf(dir, { source_ami: 'ami-0abc', user_data_file: file });
    expect(await hashOf(dir, { source_ami: 'ami-0abc', user_data_file: file })).toBe(one);
    writeFileSync(file, 'echo two\n');
    const two = await hashOf(dir, { source_ami: 'ami-0abc', user_data_file: file });
    expect(two).not.toBe(one);
  });

  it('hashes the AMI a source_ami_filter resolved to: a newer match changes the hash', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-reuse-'));
    dirs.push(dir);
    const filter = { filters: { name: 'debian-12-*' }, owners: ['136693071363'] };
    const one = await hashOf(dir, { source_ami_filter: filter }, 'us-east-1:ami-0aaa');
    expect(await hashOf(dir, { source_ami_filter: filter }, 'us-east-1:ami-0aaa')).toBe(one);
    expect(await hashOf(dir, { source_ami_filter: filter }, 'us-east-1:ami-0bbb')).not.toBe(one);
  });

  it('reuses any AMI with regions, none without', () => {
    expect(reusableArtifact(image({ regions: { 'us-east-1': 'ami-1' } }))?.id).toBe(
      'us-east-1:ami-1',
    );
    expect(reusableArtifact(image({ regions: {} }))).toBeUndefined();
  });
});
