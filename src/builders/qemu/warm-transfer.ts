/**
 * A qemu image's saved VM state (warm.ts) on its way to another kiln home and back. Stored,
 * a state names this home twice: its frozen disk layer is backed by the layers of the build
 * that froze it (an ancestor's state, this home's paths), and its VM settings name the kernel
 * and initrd files of the image's chain. On the way out the layer is rebased (contents kept)
 * onto the image's own disk, which travels with it, and the kernel and initrd become tokens;
 * on the way in the layer is pointed at the image's disk in this home (header only) and the
 * tokens become this home's files, and the layer's sha256 is recorded anew. The RAM file and
 * the login key travel as they are.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { sha256File } from '../../catalog/digest.js';
import type { ImageRecord } from '../../catalog/types.js';
import type { SavedStateTransfer } from '../../core/plugin.js';
import { UserError } from '../../lib/errors.js';
import { rebaseImage } from '../../qemu/img.js';
import { WARM_DIR, WARM_KEY, WARM_LAYER, WARM_STATE, type WarmMeta } from './warm.js';

const META = 'meta.json';
const KERNEL = 'kiln:image-kernel';
const INITRD = 'kiln:image-initrd';
const FILES = [META, WARM_STATE, WARM_LAYER, WARM_KEY] as const;

function warmDir(image: ImageRecord): string {
  return join(dirname(image.files[0]!), WARM_DIR);
}

function usable(dir: string): boolean {
  return existsSync(join(dir, META)) && !existsSync(join(dir, 'broken'));
}

function bootFile(image: ImageRecord, key: 'kernel' | 'initrd'): string | undefined {
  const v = (image.metadata as Record<string, unknown>)[key];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

async function readMeta(file: string, what: string): Promise<WarmMeta> {
  let meta: WarmMeta;
  try {
    meta = JSON.parse(await readFile(file, 'utf8')) as WarmMeta;
  } catch {
    throw new UserError('NotKilnState', `${what}: its meta.json is not JSON`);
  }
  if (meta?.version !== 1 || typeof meta.spec !== 'object' || typeof meta.publicKey !== 'string')
    throw new UserError(
      'NotKilnState',
      `${what}: its meta.json is not a saved VM state kiln reads`,
    );
  return meta;
}

export const qemuSavedState: SavedStateTransfer = {
  has(image) {
    return image.files.length > 0 && usable(warmDir(image));
  },

  async export(image, scratch, signal) {
    const dir = warmDir(image);
    if (!usable(dir)) return undefined;
    const meta = await readMeta(join(dir, META), `the saved VM state of ${image.id}`);
    const spec = { ...meta.spec };
    for (const [key, token] of [
      ['kernel', KERNEL],
      ['initrd', INITRD],
    ] as const) {
      if (spec[key] === undefined) continue;
      if (spec[key] !== bootFile(image, key))
        throw new UserError(
          'StateNotPortable',
          `the saved VM state of ${image.id} boots a ${key} that is not its image's (${spec[key]})`,
          { hint: 'push without --with-state' },
        );
      spec[key] = token;
    }
    await mkdir(scratch, { recursive: true, mode: 0o700 });
    const layer = join(scratch, WARM_LAYER);
    await copyFile(join(dir, WARM_LAYER), layer);
    // Onto the image's own disk, with what the frozen VM saw kept: the disk travels with it.
    await rebaseImage(layer, image.files[0]!, image.format ?? 'qcow2', true, signal);
    const out: WarmMeta = { ...meta, spec, layerSha256: await sha256File(layer, signal) };
    await writeFile(join(scratch, META), `${JSON.stringify(out, null, 2)}\n`, { mode: 0o600 });
    return [
      { name: META, path: join(scratch, META) },
      { name: WARM_STATE, path: join(dir, WARM_STATE) },
      { name: WARM_LAYER, path: layer },
      { name: WARM_KEY, path: join(dir, WARM_KEY) },
    ];
  },

  async import(image, files, signal) {
    const dir = warmDir(image);
    if (usable(dir)) return `kept the saved VM state ${image.id} has`;
    const what = `the pulled VM state of ${image.id}`;
    const byName = new Map(files.map((f) => [f.name, f.path]));
    const missing = FILES.filter((n) => !byName.has(n));
    if (missing.length > 0 || files.length !== FILES.length)
      throw new UserError(
        'NotKilnState',
        `${what} has ${files.map((f) => f.name).join(', ')}; a qemu state is ${FILES.join(', ')}`,
      );
    const meta = await readMeta(byName.get(META)!, what);
    const spec = { ...meta.spec };
    for (const [key, token] of [
      ['kernel', KERNEL],
      ['initrd', INITRD],
    ] as const) {
      if (spec[key] === undefined) continue;
      const local = bootFile(image, key);
      if (spec[key] !== token || !local)
        throw new UserError('NotKilnState', `${what} names a ${key} this home does not have`);
      spec[key] = local;
    }
    // Beside its final place, complete before it gets its name: never a half-written state.
    const tmp = `${dir}.tmp-${randomBytes(6).toString('hex')}`;
    await mkdir(tmp, { mode: 0o700 });
    try {
      for (const f of files) {
        const dest = join(tmp, f.name);
        await rename(f.path, dest).catch(() => copyFile(f.path, dest));
      }
      await rebaseImage(
        join(tmp, WARM_LAYER),
        image.files[0]!,
        image.format ?? 'qcow2',
        false,
        signal,
      );
      const full: WarmMeta = {
        ...meta,
        spec,
        layerSha256: await sha256File(join(tmp, WARM_LAYER), signal),
      };
      await rm(join(tmp, META), { force: true });
      await chmod(join(tmp, WARM_KEY), 0o600);
      // meta.json last: a directory without it is not a saved state.
      await writeFile(join(tmp, META), `${JSON.stringify(full, null, 2)}\n`, { mode: 0o600 });
      // An unusable state (broken, incomplete) makes way for the pulled one.
      if (existsSync(dir)) await rm(dir, { recursive: true, force: true });
      await rename(tmp, dir);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
    return `saved VM state of ${image.id} installed`;
  },
};
