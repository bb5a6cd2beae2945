import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { digestForRegistration, sha256File, verifyImageDigests } from './digest.js';
import type { ImageRecord } from './types.js';

const dir = mkdtempSync(join(tmpdir(), 'kiln-digest-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function image(file: string, sha256: string | null): ImageRecord {
  return { id: 'img-00000000000000001', name: 't', files: [file], sha256 } as ImageRecord;
}

describe('image digests', () => {
  it('records a digest, accepts the unchanged file and refuses a changed one naming both digests', async () => {
    const file = join(dir, 'disk.qcow2');
    writeFileSync(file, 'disk bytes');
    const sha = await digestForRegistration(dir, file);
    expect(sha).toBe(await sha256File(file));
    await verifyImageDigests(dir, [image(file, sha)]);
    appendFileSync(file, 'tampered');
    const err = await verifyImageDigests(dir, [image(file, sha)]).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'ImageDigestMismatch', where: file });
    expect((err as Error).message).toMatch(/does not match its recorded sha256/);
  });

  it('skips images registered without a digest', async () => {
    const file = join(dir, 'old.qcow2');
    writeFileSync(file, 'x');
    await expect(verifyImageDigests(dir, [image(file, null)])).resolves.toBeUndefined();
  });
});
