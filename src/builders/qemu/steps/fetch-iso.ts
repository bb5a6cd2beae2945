/**
 * The installer ISO of `iso_url`/`iso_urls` (when the build installs from one): a local
 * file is used in place, an http(s) one is downloaded once into `<kiln home>/cache/iso`
 * under a name kept by its checksum, and either is verified against `iso_checksum` before
 * QEMU sees it. Nothing to clean up: a download that fails or is cancelled removes its
 * partial file itself, and a verified one stays in the cache for the next build, as
 * Packer's does. The partial file is journalled while it exists, so after a kill -9
 * `kiln gc` (or the next build's start) removes it.
 */
import { join, resolve } from 'node:path';
import type { Step } from '../../../core/steps.js';
import { fetchIso } from '../../../qemu/iso-source.js';
import { isInstaller, isoUrls } from '../config.js';
import { journal, type QemuState, unjournal } from '../state.js';

/** `iso_checksum`, with Packer 1.6's separate `iso_checksum_type` folded in. */
export function isoChecksumSpec(checksum: string, type: string | undefined): string {
  const t = type?.trim().toLowerCase();
  if (t === 'none') return 'none';
  // Already typed (`sha256:…`, `file:…`) or `none`: the type apart adds nothing.
  if (!t || /^(none$|[a-z0-9]+:)/i.test(checksum.trim())) return checksum;
  return `${t}:${checksum.trim()}`;
}

export const fetchIsoStep: Step<QemuState> = {
  name: 'fetch-iso',
  async run(state, { ui, signal }) {
    const c = state.config;
    if (!isInstaller(c)) return;
    ui.say('Retrieving ISO');
    let lastShown = -1;
    const iso = await fetchIso({
      urls: isoUrls(c),
      checksum: isoChecksumSpec(c.iso_checksum ?? 'none', c.iso_checksum_type),
      cacheDir: join(state.ctx.kilnHome, 'cache', 'iso'),
      baseDir: resolve('.'),
      signal,
      onTry: (url, err) => {
        if (err) ui.error(`${url}: ${err.message}`);
        else ui.message(`Trying ${url}`);
      },
      onPartFile: (path, event) =>
        event === 'begin' ? journal(state, 'file', path) : unjournal(state, path),
      onProgress: ({ url, bytes, total }) => {
        // A line per tenth (or per 64 MiB when the size is unknown), not per chunk.
        const step = total ? Math.floor((bytes * 10) / total) : Math.floor(bytes / (64 << 20));
        if (step === lastShown) return;
        lastShown = step;
        ui.progress(`Downloading ${url}`, bytes, total, total !== undefined && bytes === total);
      },
    });
    ui.message(
      iso.reused ? `Using file in-place: ${iso.path}` : `Downloaded ${iso.url} to ${iso.path}`,
    );
    state.source = { file: iso.path, format: 'raw', kilnCredentials: false, iso };
    state.ctx.generated.SourceImage = iso.url;
  },
};
