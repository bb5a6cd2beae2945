/**
 * The installer path's checks before any side effect (prepare) and what its builds hash
 * (inputs): the ISO, the HTTP directory and the CD's files.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { PrepareContext } from '../../core/plugin.js';
import { prepareQemu, qemuBuilder } from './builder.js';
import { qemuConfigSchema } from './config.js';
import { isoChecksumSpec } from './steps/fetch-iso.js';

const dir = mkdtempSync(join(tmpdir(), 'kiln-installer-unit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const iso = join(dir, 'install.iso');
writeFileSync(iso, 'iso');
mkdirSync(join(dir, 'http'));
writeFileSync(join(dir, 'SHA256SUMS'), 'x  install.iso\n');

const prepCtx = {
  buildName: 'qemu',
  buildType: 'qemu',
  templateDir: dir,
  kilnHome: join(dir, 'home'),
  catalog: undefined as never,
} satisfies PrepareContext;

function config(extra: Record<string, unknown>) {
  return qemuConfigSchema.parse({
    iso_url: iso,
    iso_checksum: 'none',
    communicator: 'none',
    ...extra,
  });
}

describe('qemu installer path', () => {
  it('prepares a valid installer build without problems', async () => {
    const r = await prepareQemu(
      config({
        boot_command: ['<esc><wait>auto url=http://{{ .HTTPIP }}:{{ .HTTPPort }}/p.cfg<enter>'],
        http_directory: join(dir, 'http'),
        cd_files: [iso],
      }),
      prepCtx,
    );
    expect(r.errors).toEqual([]);
  });

  it('reports every problem at once: a misspelt key, a missing ISO, HTTP directory and CD file, a bad checksum', async () => {
    const r = await prepareQemu(
      config({
        iso_url: join(dir, 'missing.iso'),
        iso_checksum: 'sha256:abc',
        boot_command: ['<esc>', 'auto<entr>'],
        http_directory: join(dir, 'nope'),
        cd_files: [join(dir, 'gone.txt')],
        cd_content: { '../escape': 'x' },
      }),
      prepCtx,
    );
    const text = r.errors.map((e) => `${e.key}: ${e.message}`).join('\n');
    expect(text).toMatch(
      /boot_command: boot_command\[1\]:5: unknown special key <entr>; did you mean <enter>\?/,
    );
    expect(text).toMatch(/iso_url: ISO not found: .*missing\.iso/);
    expect(text).toMatch(/iso_checksum: a sha256 checksum has 64 hex digits, not 3/);
    expect(text).toMatch(/http_directory: .*nope is not a directory/);
    expect(text).toMatch(/cd_files: cd_files\[0\]: .*gone\.txt does not exist/);
    expect(text).toMatch(/cd_content: cd_content key "\.\.\/escape" is not a file path on the CD/);
    expect(r.errors).toHaveLength(6);
  });

  it('hashes the local ISO by size and time, and the HTTP directory, CD files and checksum file by content', () => {
    const inputs = qemuBuilder.inputs!(
      config({
        iso_checksum: `file:${join(dir, 'SHA256SUMS')}`,
        http_directory: join(dir, 'http'),
        cd_files: [iso],
      }),
    );
    expect(inputs).toEqual({
      files: [iso, join(dir, 'SHA256SUMS')],
      dirs: [join(dir, 'http')],
      stamped: [iso],
    });
  });

  it('folds Packer 1.6 iso_checksum_type into the checksum', () => {
    expect(isoChecksumSpec('abc', 'sha256')).toBe('sha256:abc');
    expect(isoChecksumSpec('sha1:abc', 'sha256')).toBe('sha1:abc');
    expect(isoChecksumSpec('abc', 'none')).toBe('none');
    expect(isoChecksumSpec('file:./SUMS', undefined)).toBe('file:./SUMS');
    expect(isoChecksumSpec('none', undefined)).toBe('none');
  });
});
