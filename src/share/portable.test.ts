import { describe, expect, it } from 'vitest';
import type { ImageRecord } from '../catalog/types.js';
import { REDACTED } from '../core/secrets.js';
import { exportImage, fileToken, importImage, readPortable } from './portable.js';

const record: ImageRecord = {
  id: 'img-00000000000000002',
  name: 'hello-web-dev',
  builder: 'qemu',
  parentId: 'img-00000000000000001',
  files: ['/home/a/images/img-00000000000000002/disk.qcow2'],
  format: 'qcow2',
  inputHash: 'sha256:abc',
  templatePath: '/src/packer-release.json',
  variables: { http_port: '8080', password: REDACTED },
  tags: ['dev'],
  sizeBytes: 1,
  sha256: 'ff',
  metadata: {
    kernel: '/home/a/images/img-00000000000000001/vmlinuz',
    cmdline: 'root=/dev/vda',
    nested: { list: ['/home/a/images/img-00000000000000001/vmlinuz', 'x'] },
    cpus: 2,
  },
  status: 'ready',
  createdAt: '2026-01-02T03:04:05.000Z',
};
const tokens = new Map([
  ['/home/a/images/img-00000000000000001/vmlinuz', fileToken('img-00000000000000001', 'vmlinuz')],
]);

describe('exportImage / importImage', () => {
  it('leaves sensitive variables out and turns chain file paths into tokens and back', () => {
    const p = exportImage(record, 'disk.qcow2', tokens);
    expect(p.variables).toEqual({ http_port: '8080' });
    expect(JSON.stringify(p)).not.toContain('/home/a/');
    expect(readPortable(record.id, p as unknown as Record<string, unknown>)).toEqual(p);
    const back = importImage(record.id, p, ['/b/images/x/disk.qcow2'], '/b/images', 'r@sha256:1');
    expect(back).toMatchObject({
      id: record.id,
      parentId: record.parentId,
      createdAt: record.createdAt,
      inputHash: 'sha256:abc',
      metadata: {
        kernel: '/b/images/img-00000000000000001/vmlinuz',
        nested: { list: ['/b/images/img-00000000000000001/vmlinuz', 'x'] },
        cpus: 2,
        pulledFrom: 'r@sha256:1',
      },
    });
  });

  it('refuses a token that is not `<id>/<file>` and a record that is not one', () => {
    const p = exportImage(record, 'disk.qcow2', tokens);
    const evil = { ...p, metadata: { kernel: 'kiln-image-file:../../etc/passwd' } };
    expect(() => importImage(record.id, evil, [], '/b/images', 'r')).toThrow(/unusable file/);
    expect(() => readPortable(record.id, { name: 'x' })).toThrow(/not usable/);
    expect(() => readPortable(record.id, { ...p, disk: '../disk' })).toThrow(/not usable/);
  });
});
