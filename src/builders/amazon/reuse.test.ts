import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ImageRecord } from '../../catalog/types.js';
import { reusableArtifact, userDataFileSha256 } from './reuse.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function image(metadata: Record<string, unknown>): ImageRecord {
  return { id: 'ami-1', metadata } as unknown as ImageRecord;
}

describe('amazon-ebs reuse', () => {
  it('reuses an AMI only while the user_data_file content is the one it was built with', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kiln-reuse-'));
    dirs.push(dir);
    const file = join(dir, 'user-data.sh');
    writeFileSync(file, 'echo one\n');
    const sha = userDataFileSha256({ user_data_file: file })!;
    expect(sha).toMatch(/^[0-9a-f]{64}$/);
    const img = image({ regions: { 'us-east-1': 'ami-1' }, userDataFileSha256: sha });
    expect(reusableArtifact(img, { user_data_file: file })?.id).toBe('us-east-1:ami-1');
    writeFileSync(file, 'echo two\n');
    expect(reusableArtifact(img, { user_data_file: file })).toBeUndefined();
    rmSync(file);
    expect(reusableArtifact(img, { user_data_file: file })).toBeUndefined();
    // An image recorded without the hash (older kiln) is not reused for a user_data_file build.
    writeFileSync(file, 'echo one\n');
    expect(
      reusableArtifact(image({ regions: { 'us-east-1': 'ami-1' } }), { user_data_file: file }),
    ).toBeUndefined();
  });

  it('reuses any AMI with regions when no user_data_file is named, none without', () => {
    expect(reusableArtifact(image({ regions: { 'us-east-1': 'ami-1' } }), {})?.id).toBe(
      'us-east-1:ami-1',
    );
    expect(reusableArtifact(image({ regions: {} }), {})).toBeUndefined();
  });
});
