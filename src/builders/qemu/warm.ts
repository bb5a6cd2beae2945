/**
 * Warm start: a build VM restored from a saved QEMU state instead of booted.
 *
 * A warm state of an image is a running guest frozen at a point where kiln can log in: the
 * guest's RAM and devices (a QEMU migration stream, zstd-compressed) and the disk layer it ran
 * on (a qcow2 file frozen at that moment, backed by the image's ancestry). Restoring it takes
 * under a second where a boot to SSH takes 7-13 s under TCG.
 *
 * Two moments make one:
 *  - a build whose source image has no warm state saves one for the source right after SSH
 *    answers (the guest has only booted);
 *  - every build saves one for the image it makes right after its provisioners, before
 *    clean-guest (the guest still accepts the build's key); a build from that image then
 *    continues where this one stopped, without a reboot.
 * Freezing is QMP `stop`, `blockdev-snapshot-sync` (the VM goes on in a new empty overlay, so
 * the frozen file matches the RAM exactly), `migrate` to a file, `cont`.
 *
 * The state lives in `<image dir>/warm/` (meta.json, state.zst, layer.qcow2, key): never part of
 * an image's disk chain (each image's disk is rebased onto its source's disk at the end of a
 * build), so removing it only costs the next build a boot. What differs from a boot and how it
 * is handled: the guest's clock (set from the host after restore), the kernel's random state
 * (reseeded with the host's random bytes after restore; a `vmgenid` device also tells kernels
 * that have its driver), the login key (the key authorized in the
 * state is replaced by the build's own key at once). `KILN_WARM=0` turns warm starts off.
 */
import { existsSync, readFileSync } from 'node:fs';
import { copyFile, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256File } from '../../catalog/digest.js';
import { SystemError } from '../../lib/errors.js';
import { sleep } from '../../lib/sleep.js';
import type { QmpClient } from '../../qemu/qmp.js';

export const WARM_DIR = 'warm';
const META = 'meta.json';
export const WARM_STATE = 'state.zst';
export const WARM_LAYER = 'layer.qcow2';
export const WARM_KEY = 'key';

/** What a restored VM must be started with: anything that differs makes the state unusable. */
export interface WarmSpec {
  qemuBinary: string;
  accel: string;
  machineType: string;
  memoryMb: number;
  cpus: number;
  diskInterface: string;
  netDevice: string;
  virtualSize: number;
  kernel?: string;
  initrd?: string;
  cmdline?: string;
  sshPort: number;
  qemuArgs: string[][];
}

export interface WarmMeta {
  version: 1;
  spec: WarmSpec;
  /** The user whose authorized_keys holds the warm key. */
  user: string;
  /** The public half of `key`: the line a restored guest's authorized_keys has for it. */
  publicKey: string;
  /** The SMBIOS credentials the frozen VM was started with (public keys only). */
  credentials: Record<string, string>;
  /** sha256 of layer.qcow2: a changed layer would silently change what a build starts from. */
  layerSha256: string;
  createdAt: string;
}

/** A usable warm state of a source image. */
export interface WarmSource {
  dir: string;
  meta: WarmMeta;
  stateFile: string;
  layerFile: string;
  keyFile: string;
}

/** False when the user turned warm starts off (`KILN_WARM=0`). */
export function warmEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return !/^(0|false|no|off)$/i.test(env.KILN_WARM ?? '');
}

/** True when two specs start the same VM (key order does not matter). */
export function sameSpec(a: WarmSpec, b: WarmSpec): boolean {
  return canonical(a) === canonical(b);
}

function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

/** The warm state in `imageDir` matching `spec` and `user`, or why there is none. */
export async function findWarm(
  imageDir: string,
  spec: WarmSpec,
  user: string,
): Promise<WarmSource | string> {
  const dir = join(imageDir, WARM_DIR);
  let meta: WarmMeta;
  try {
    meta = JSON.parse(readFileSync(join(dir, META), 'utf8')) as WarmMeta;
  } catch {
    return 'the source image has no saved VM state';
  }
  if (existsSync(join(dir, 'broken'))) return 'its saved VM state failed to restore before';
  if (meta.version !== 1 || typeof meta.publicKey !== 'string' || !sameSpec(meta.spec, spec))
    return 'its saved VM state was made with other VM settings';
  if (meta.user !== user) return `its saved VM state accepts ${meta.user}, not ${user}`;
  const src: WarmSource = {
    dir,
    meta,
    stateFile: join(dir, WARM_STATE),
    layerFile: join(dir, WARM_LAYER),
    keyFile: join(dir, WARM_KEY),
  };
  if (![src.stateFile, src.layerFile, src.keyFile].every((f) => existsSync(f)))
    return 'its saved VM state is incomplete';
  if ((await sha256File(src.layerFile)) !== meta.layerSha256)
    return 'its saved disk layer does not match its recorded sha256';
  return src;
}

/** Marks a warm state as unusable (a restore failed): later builds boot instead of retrying it. */
export async function markBroken(src: WarmSource, why: string): Promise<void> {
  await writeFile(join(src.dir, 'broken'), `${why}\n`).catch(() => undefined);
}

/** A path quoted for the `sh -c` QEMU runs `exec:` migration URIs with. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Freezes a running VM: pauses it, moves its writes to a new overlay `newTop` (the current
 * disk file is then frozen, matching the RAM; `onNewTop` is told at once, even if the save
 * then fails), writes RAM and devices to `stateFile`, and lets it run on. The state file
 * appears under its name only once complete.
 */
export async function freezeVm(
  qmp: QmpClient,
  opts: { newTop: string; stateFile: string; onNewTop(): void },
): Promise<void> {
  await qmp.execute('stop');
  try {
    const blocks =
      await qmp.execute<Array<{ device: string; inserted?: { file: string } }>>('query-block');
    const disk = blocks.find((b) => b.inserted && b.device);
    if (!disk) throw new SystemError('WarmSaveFailed', 'QEMU reports no disk to freeze');
    await qmp.execute('blockdev-snapshot-sync', {
      device: disk.device,
      'snapshot-file': opts.newTop,
      format: 'qcow2',
    });
    opts.onNewTop();
    // The default bandwidth cap (32 MiB/s) is for live migration; this VM is paused.
    await qmp.execute('migrate-set-parameters', { 'max-bandwidth': 8 * 1024 ** 3 });
    await qmp.execute('migrate', {
      uri: `exec:zstd -q -1 -T0 -f -o ${shQuote(`${opts.stateFile}.part`)} && mv -f ${shQuote(`${opts.stateFile}.part`)} ${shQuote(opts.stateFile)}`,
    });
    await waitMigration(qmp, 'saving the VM state');
  } finally {
    // Even after a failed save the build goes on (or is cleaned up) with a running VM.
    await qmp.execute('cont').catch(() => undefined);
  }
}

/** Feeds a saved state into a VM started with `-incoming defer`, then runs it. */
export async function restoreVm(qmp: QmpClient, stateFile: string): Promise<void> {
  await qmp.execute('migrate-incoming', { uri: `exec:zstd -q -dc ${shQuote(stateFile)}` });
  await waitMigration(qmp, 'restoring the VM state');
  // The state was saved from a paused VM, so it arrives paused.
  await qmp.execute('cont');
}

async function waitMigration(qmp: QmpClient, what: string): Promise<void> {
  for (;;) {
    const r = await qmp.execute<{ status?: string; 'error-desc'?: string }>('query-migrate');
    if (r.status === 'completed') return;
    if (r.status === 'failed' || r.status === 'cancelled')
      throw new SystemError('WarmMigrationFailed', `${what} failed`, {
        details: r['error-desc'] ? [r['error-desc']] : [],
      });
    await sleep(25);
  }
}

/**
 * The script (run as root in a restored guest, with `sh -s -- <epoch>`) that swaps
 * the warm key for the build's own key in `user`'s authorized_keys, sets the clock (it stopped
 * when the state was saved) and reseeds the kernel's random generator.
 */
export function adoptScript(
  user: string,
  warmKeyBody: string,
  buildPublicKey: string,
  seedHex: string,
): string {
  const q = shQuote;
  return `set -eu
home=/root
[ ${q(user)} = root ] || home=$(getent passwd ${q(user)} | cut -d: -f6)
f="$home/.ssh/authorized_keys"
kept=''
found=''
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in *${q(warmKeyBody)}*) found=1 ;; *) kept="$kept$line
" ;; esac
done < "$f"
[ -n "$found" ] || { echo "the saved key is not in $f" >&2; exit 3; }
printf '%s%s\\n' "$kept" ${q(buildPublicKey)} > "$f"
date -u -s "@$1" >/dev/null
# Every guest restored from one state starts with the same kernel random state. Mix the
# host's random bytes in and reseed at once (RNDRESEEDCRNG); Debian's cloud kernel has no
# vmgenid driver to do it. perl-base is essential in Debian; python3 otherwise.
if command -v perl >/dev/null; then
  perl -e 'open(my $f, "+<", "/dev/urandom") or die; syswrite($f, pack("H*", $ARGV[0])) or die; ioctl($f, 0x5207, 0) or die "reseed: $!"' ${q(seedHex)}
elif command -v python3 >/dev/null; then
  python3 -c 'import fcntl, os, sys; f = os.open("/dev/urandom", os.O_WRONLY); os.write(f, bytes.fromhex(sys.argv[1])); fcntl.ioctl(f, 0x5207)' ${q(seedHex)}
else
  echo "neither perl nor python3: cannot reseed the kernel's random generator" >&2; exit 4
fi
echo kiln-adopt-ok
`;
}

/** Writes a warm state directory (`dir` must not exist yet) from a frozen layer, a state file and the key that logs in. */
export async function writeWarm(
  dir: string,
  parts: { layer: string; state: string; privateKeyFile: string },
  meta: Omit<WarmMeta, 'layerSha256' | 'createdAt' | 'version'>,
): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await rename(parts.layer, join(dir, WARM_LAYER));
  await rename(parts.state, join(dir, WARM_STATE));
  await copyFile(parts.privateKeyFile, join(dir, WARM_KEY));
  const full: WarmMeta = {
    version: 1,
    ...meta,
    layerSha256: await sha256File(join(dir, WARM_LAYER)),
    createdAt: new Date().toISOString(),
  };
  // meta.json last: a directory without it is not a warm state.
  await writeFile(join(dir, META), `${JSON.stringify(full, null, 2)}\n`, { mode: 0o600 });
}

/** Removes a warm state directory (best effort). */
export async function removeWarm(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true });
}
