import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sha256File } from '../../catalog/digest.js';
import type { ImageRecord } from '../../catalog/types.js';
import { qemuSavedState } from './warm-transfer.js';

// Real qemu-img on small disks: an image chain parent → image, and the image's saved state
// whose frozen layer is backed by a layer of the build that froze it (as builds leave it).
const root = mkdtempSync(join(tmpdir(), 'kiln-warm-transfer-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const img = (...args: string[]) => execFileSync('qemu-img', args, { encoding: 'utf8' });
const io = (disk: string, cmd: string) => execFileSync('qemu-io', ['-f', 'qcow2', '-c', cmd, disk]);
const backing = (disk: string) =>
  (JSON.parse(img('info', '--output=json', '-U', disk)) as { 'backing-filename'?: string })[
    'backing-filename'
  ];

function home(name: string) {
  const h = join(root, name);
  const parentDir = join(h, 'images', 'img-parent');
  const imageDir = join(h, 'images', 'img-image');
  mkdirSync(parentDir, { recursive: true });
  mkdirSync(imageDir, { recursive: true });
  writeFileSync(join(parentDir, 'vmlinuz'), 'kernel');
  writeFileSync(join(parentDir, 'initrd.img'), 'initrd');
  const record: ImageRecord = {
    id: 'img-image',
    files: [join(imageDir, 'disk.qcow2')],
    format: 'qcow2',
    builder: 'qemu',
    metadata: { kernel: join(parentDir, 'vmlinuz'), initrd: join(parentDir, 'initrd.img') },
  } as unknown as ImageRecord;
  return { h, parentDir, imageDir, record };
}

describe('qemu saved state between kiln homes', () => {
  it('exports a state that names nothing of its home and installs it in another one', async () => {
    const a = home('a');
    img('create', '-q', '-f', 'qcow2', join(a.parentDir, 'disk.qcow2'), '16M');
    io(join(a.parentDir, 'disk.qcow2'), 'write -P 0x11 0 4M');
    // The layer the build that froze the state ran on (stays in home A), then the frozen layer.
    const buildLayer = join(a.h, 'build-layer.qcow2');
    img(
      'create',
      '-q',
      '-f',
      'qcow2',
      '-b',
      join(a.parentDir, 'disk.qcow2'),
      '-F',
      'qcow2',
      buildLayer,
    );
    io(buildLayer, 'write -P 0x22 4M 2M');
    const warm = join(a.imageDir, 'warm');
    mkdirSync(warm);
    img('create', '-q', '-f', 'qcow2', '-b', buildLayer, '-F', 'qcow2', join(warm, 'layer.qcow2'));
    io(join(warm, 'layer.qcow2'), 'write -P 0x33 8M 1M');
    // The image's disk: what the build left after clean-guest (a little different).
    img(
      'create',
      '-q',
      '-f',
      'qcow2',
      '-b',
      join(a.parentDir, 'disk.qcow2'),
      '-F',
      'qcow2',
      a.record.files[0]!,
    );
    io(a.record.files[0]!, 'write -P 0x22 4M 2M');
    writeFileSync(join(warm, 'state.zst'), 'ram');
    writeFileSync(join(warm, 'key'), 'private key', { mode: 0o600 });
    const spec = {
      kernel: join(a.parentDir, 'vmlinuz'),
      initrd: join(a.parentDir, 'initrd.img'),
      memoryMb: 1024,
    };
    writeFileSync(
      join(warm, 'meta.json'),
      JSON.stringify({
        version: 1,
        spec,
        user: 'root',
        publicKey: 'ssh-ed25519 AAAA',
        credentials: {},
        layerSha256: await sha256File(join(warm, 'layer.qcow2')),
        createdAt: 'now',
      }),
    );
    expect(qemuSavedState.has(a.record)).toBe(true);

    const files = (await qemuSavedState.export(
      a.record,
      join(a.h, 'scratch'),
      new AbortController().signal,
    ))!;
    expect(files.map((f) => f.name).sort()).toEqual([
      'key',
      'layer.qcow2',
      'meta.json',
      'state.zst',
    ]);
    const out = Object.fromEntries(files.map((f) => [f.name, f.path]));
    // Backed by the image's own disk, with what the frozen VM saw kept.
    expect(backing(out['layer.qcow2']!)).toBe(a.record.files[0]);
    img('compare', '-q', join(warm, 'layer.qcow2'), out['layer.qcow2']!);
    const meta = readFileSync(out['meta.json']!, 'utf8');
    expect(meta).not.toContain(a.h);
    // The stored state is untouched.
    expect(backing(join(warm, 'layer.qcow2'))).toBe(buildLayer);

    // Home B: the same chain (as a pull rebuilds it), no build layer.
    const b = home('b');
    img(
      'convert',
      '-q',
      '-O',
      'qcow2',
      join(a.parentDir, 'disk.qcow2'),
      join(b.parentDir, 'disk.qcow2'),
    );
    execFileSync('cp', [a.record.files[0]!, b.record.files[0]!]);
    img(
      'rebase',
      '-q',
      '-u',
      '-f',
      'qcow2',
      '-b',
      join(b.parentDir, 'disk.qcow2'),
      '-F',
      'qcow2',
      b.record.files[0]!,
    );
    // The files arrive in a scratch directory (copies: the export's are home A's).
    const incoming = join(b.h, 'tmp');
    mkdirSync(incoming);
    const pulled = files.map((f) => {
      const p = join(incoming, f.name);
      execFileSync('cp', [f.path, p]);
      return { name: f.name, path: p };
    });
    expect(await qemuSavedState.import(b.record, pulled, new AbortController().signal)).toMatch(
      /installed/,
    );
    const warmB = join(b.imageDir, 'warm');
    expect(backing(join(warmB, 'layer.qcow2'))).toBe(b.record.files[0]);
    img('compare', '-q', join(warm, 'layer.qcow2'), join(warmB, 'layer.qcow2'));
    const metaB = JSON.parse(readFileSync(join(warmB, 'meta.json'), 'utf8'));
    expect(metaB.spec).toEqual({
      kernel: join(b.parentDir, 'vmlinuz'),
      initrd: join(b.parentDir, 'initrd.img'),
      memoryMb: 1024,
    });
    expect(metaB.layerSha256).toBe(await sha256File(join(warmB, 'layer.qcow2')));
    expect(readFileSync(join(warmB, 'key'), 'utf8')).toBe('private key');
    expect(qemuSavedState.has(b.record)).toBe(true);
    // A usable state is kept; nothing else is left beside it.
    expect(await qemuSavedState.import(b.record, pulled, new AbortController().signal)).toMatch(
      /kept/,
    );
    expect(execFileSync('ls', ['-A', b.imageDir], { encoding: 'utf8' }).trim().split('\n')).toEqual(
      ['disk.qcow2', 'warm'],
    );
  });

  it('refuses files that are not a qemu state, and leaves nothing', async () => {
    const c = home('c');
    img('create', '-q', '-f', 'qcow2', c.record.files[0]!, '16M');
    const f = join(c.h, 'meta.json');
    writeFileSync(f, '{}');
    await expect(
      qemuSavedState.import(
        c.record,
        [{ name: 'meta.json', path: f }],
        new AbortController().signal,
      ),
    ).rejects.toThrow(/a qemu state is meta\.json, state\.zst, layer\.qcow2, key/);
    expect(existsSync(join(c.imageDir, 'warm'))).toBe(false);
  });
});
