#!/usr/bin/env node
// Registry benchmark: `kiln push` and `kiln pull` of the sample chain (base → build → release)
// side by side with `skopeo copy` of the same content, alternating kiln, skopeo, kiln, skopeo.
// Both do the same work:
//   push  kiln push IMAGE REF                 reads each qcow2, compresses it (zstd), uploads it
//         skopeo copy oci:LAYOUT docker://REF  the same qcow2 files as uncompressed layers of an
//                                             OCI layout, compressed (zstd) and uploaded
//   pull  kiln pull REF (a fresh kiln home)    downloads, verifies, decompresses, writes each file
//         skopeo copy docker://REF dir:DIR     downloads, verifies, decompresses (--dest-decompress)
// Each run gets a fresh registry (Debian's docker-registry on loopback, plain HTTP), so nothing
// is already there or mountable. Prints bytes, seconds and peak RSS (GNU time's %M: the largest
// process of the command's tree) of each, the medians, and kiln/skopeo; exit 0 either way.
//
//   npm run bench:registry                               # the chain of hello-web-dev in bench/work/kiln-home
//   npm run bench:registry -- --home DIR --image ID --runs 5
//   npm run bench:registry -- --tiny 8 --runs 1          # a made-up 8 MiB image: checks the script works
//
// The bar (issue 14): kiln within 1.2x of skopeo's time, and kiln's RSS under 200 MiB while
// moving the ~450 MiB base.
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  copyFileSync,
  createReadStream,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const kilnBin = join(root, 'bin/kiln.js');

const argv = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : dflt;
};
const runs = Number(opt('--runs', '3'));
const tinyMiB = opt('--tiny', undefined);
let home = resolve(opt('--home', join(here, 'work', 'kiln-home')));
let image = opt('--image', 'hello-web-dev');

function log(msg) {
  process.stderr.write(`bench: ${msg}\n`);
}

function need(cmd, hint) {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
  } catch {
    log(`${cmd} is required: ${hint}`);
    process.exit(1);
  }
}

/** Runs a command under GNU time; returns {ms, stdout, stderr, peakKb}; throws with the output's tail on failure. */
async function timed(label, file, args, env = {}) {
  const t0 = performance.now();
  const child = spawn('/usr/bin/time', ['-f', 'BENCH_MAXRSS=%M', file, ...args], {
    cwd: root,
    env: { ...process.env, ...env },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const code = await new Promise((res) => child.on('close', res));
  const ms = performance.now() - t0;
  if (code !== 0) {
    const tail = `${stdout}\n${stderr}`.trim().split('\n').slice(-20).join('\n');
    throw new Error(`${label} failed (exit ${code}):\n${tail}`);
  }
  return { ms, stdout, stderr, peakKb: Number(/BENCH_MAXRSS=(\d+)/.exec(stderr)?.[1] ?? 0) };
}

function kilnSync(args, kilnHome) {
  return execFileSync(process.execPath, [kilnBin, ...args], {
    env: { ...process.env, KILN_HOME: kilnHome },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  }).trim();
}

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer();
    s.on('error', rej);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    });
  });
}

/** A fresh docker-registry on a free loopback port, storage in a temp dir; `stop()` removes it. */
async function startRegistry() {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-bench-registry-'));
  const port = await freePort();
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: error',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'storage')}`,
      'http:',
      `  addr: 127.0.0.1:${port}`,
      `  secret: ${randomBytes(16).toString('hex')}`,
      '',
    ].join('\n'),
  );
  const proc = spawn('docker-registry', ['serve', config], { stdio: 'ignore' });
  const address = `127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    try {
      const r = await fetch(`http://${address}/v2/`);
      if (r.status === 200) break;
    } catch {
      // not up yet
    }
    if (i > 200) throw new Error('docker-registry did not answer within 20 s');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    address,
    async stop() {
      proc.kill('SIGTERM');
      await new Promise((r) => (proc.exitCode !== null ? r() : proc.on('exit', r)));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function sha256(file) {
  const h = createHash('sha256');
  for await (const c of createReadStream(file, { highWaterMark: 1 << 20 })) h.update(c);
  return h.digest('hex');
}

function placeBlob(src, dest) {
  if (existsSync(dest)) return;
  try {
    linkSync(src, dest);
  } catch {
    copyFileSync(src, dest);
  }
}

/**
 * skopeo's input: an OCI layout whose layers are the chain's files, uncompressed, in the
 * order kiln pushes them (each image's disk, then its other files).
 */
async function ociLayout(files, dir) {
  const blobs = join(dir, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const layers = [];
  for (const f of files) {
    const hex = await sha256(f);
    placeBlob(f, join(blobs, hex));
    layers.push({
      mediaType: 'application/vnd.oci.image.layer.v1.tar',
      digest: `sha256:${hex}`,
      size: statSync(f).size,
      annotations: { 'org.opencontainers.image.title': basename(f) },
    });
  }
  const put = (obj) => {
    const bytes = Buffer.from(JSON.stringify(obj));
    const hex = createHash('sha256').update(bytes).digest('hex');
    writeFileSync(join(blobs, hex), bytes);
    return { digest: `sha256:${hex}`, size: bytes.length };
  };
  const config = put({
    architecture: 'amd64',
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
  });
  const manifest = put({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers,
  });
  writeFileSync(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(dir, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          ...manifest,
          annotations: { 'org.opencontainers.image.ref.name': 'chain' },
        },
      ],
    }),
  );
  return layers.reduce((n, l) => n + l.size, 0);
}

/** Bytes of every file under `dir`. */
function duBytes(dir) {
  return Number(execFileSync('du', ['-sb', dir], { encoding: 'utf8' }).split('\t')[0]);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const mib = (b) => (b / 2 ** 20).toFixed(1);

async function main() {
  need('docker-registry', 'apt-get install docker-registry');
  need('skopeo', 'apt-get install skopeo');
  need('zstd', 'apt-get install zstd');
  if (!existsSync('/usr/bin/time')) {
    log('GNU time (/usr/bin/time) is required for peak RSS: apt-get install time');
    process.exit(1);
  }
  if (!existsSync(join(root, 'dist'))) {
    log('run `npm run build` first (npm run bench:registry does)');
    process.exit(1);
  }
  const scratch = mkdtempSync(join(tmpdir(), 'kiln-bench-reg-'));
  try {
    if (tinyMiB !== undefined) {
      // A made-up image: random data (so it compresses like a real disk's used part would not).
      home = join(scratch, 'home');
      const raw = join(scratch, 'tiny.raw');
      writeFileSync(raw, randomBytes(Number(tinyMiB) << 20));
      execFileSync('qemu-img', [
        'convert',
        '-q',
        '-f',
        'raw',
        '-O',
        'qcow2',
        raw,
        join(scratch, 'tiny.qcow2'),
      ]);
      rmSync(raw);
      image = kilnSync(
        ['images', 'import', join(scratch, 'tiny.qcow2'), '--name', 'bench-tiny'],
        home,
      );
      log(`tiny mode: ${tinyMiB} MiB of random data as ${image} in ${home}`);
    }
    // The chain, base first, as kiln pushes it: its files from the catalog.
    const files = await chainFiles(home, image);
    const total = files.reduce((n, f) => n + statSync(f).size, 0);
    log(
      `chain of ${image} in ${home}: ${files.length} files, ${mib(total)} MiB (${files.map((f) => `${basename(dirname(f))}/${basename(f)} ${mib(statSync(f).size)}`).join(', ')})`,
    );
    const layout = join(scratch, 'layout');
    await ociLayout(files, layout);

    const rows = { kilnPush: [], skopeoPush: [], kilnPull: [], skopeoPull: [] };
    const startLoad = loadavg()
      .map((l) => l.toFixed(2))
      .join(', ');
    for (let run = 1; run <= runs; run++) {
      const reg = await startRegistry();
      try {
        // kiln push: a home whose layer cache knows nothing of this registry.
        const kRef = `${reg.address}/bench/kiln:${run}`;
        const kp = await timed(
          'kiln push',
          process.execPath,
          [kilnBin, 'push', image, kRef, '--output', 'json'],
          { KILN_HOME: home },
        );
        const pushed = JSON.parse(kp.stdout.trim().split('\n').at(-1));
        rows.kilnPush.push({ ms: kp.ms, bytes: pushed.blobs.bytesSent, peakKb: kp.peakKb });
        log(
          `run ${run} kiln push: ${(kp.ms / 1000).toFixed(2)} s, ${mib(pushed.blobs.bytesSent)} MiB sent, RSS ${mib(kp.peakKb * 1024)} MiB`,
        );

        const sRef = `${reg.address}/bench/skopeo:${run}`;
        const sp = await timed('skopeo push', 'skopeo', [
          'copy',
          '-q',
          '--dest-tls-verify=false',
          '--dest-compress-format',
          'zstd',
          '--dest-compress-level',
          '3',
          `oci:${layout}:chain`,
          `docker://${sRef}`,
        ]);
        const sBytes = await remoteBytes(reg.address, 'bench/skopeo', String(run));
        rows.skopeoPush.push({ ms: sp.ms, bytes: sBytes, peakKb: sp.peakKb });
        log(
          `run ${run} skopeo push: ${(sp.ms / 1000).toFixed(2)} s, ${mib(sBytes)} MiB sent, RSS ${mib(sp.peakKb * 1024)} MiB`,
        );

        // kiln pull into a fresh home.
        const pullHome = join(scratch, `pull-${run}`);
        const kq = await timed(
          'kiln pull',
          process.execPath,
          [kilnBin, 'pull', kRef, '--output', 'json'],
          { KILN_HOME: pullHome },
        );
        const pulled = JSON.parse(kq.stdout.trim().split('\n').at(-1));
        rows.kilnPull.push({ ms: kq.ms, bytes: pulled.bytes, peakKb: kq.peakKb });
        log(
          `run ${run} kiln pull: ${(kq.ms / 1000).toFixed(2)} s, ${mib(pulled.bytes)} MiB fetched, RSS ${mib(kq.peakKb * 1024)} MiB`,
        );
        rmSync(pullHome, { recursive: true, force: true });

        const dir = join(scratch, `skopeo-${run}`);
        const sq = await timed('skopeo pull', 'skopeo', [
          'copy',
          '-q',
          '--src-tls-verify=false',
          '--dest-decompress',
          `docker://${sRef}`,
          `dir:${dir}`,
        ]);
        rows.skopeoPull.push({ ms: sq.ms, bytes: sBytes, peakKb: sq.peakKb });
        log(
          `run ${run} skopeo pull: ${(sq.ms / 1000).toFixed(2)} s, wrote ${mib(duBytes(dir))} MiB, RSS ${mib(sq.peakKb * 1024)} MiB`,
        );
        rmSync(dir, { recursive: true, force: true });
      } finally {
        await reg.stop();
      }
    }

    const line = (name, k, s) => {
      const km = median(k.map((r) => r.ms)) / 1000;
      const sm = median(s.map((r) => r.ms)) / 1000;
      const kr = Math.max(...k.map((r) => r.peakKb)) / 1024;
      const sr = Math.max(...s.map((r) => r.peakKb)) / 1024;
      return `| ${name} | ${mib(median(k.map((r) => r.bytes)))} | ${km.toFixed(2)} | ${kr.toFixed(0)} | ${mib(median(s.map((r) => r.bytes)))} | ${sm.toFixed(2)} | ${sr.toFixed(0)} | ${(km / sm).toFixed(2)}× |`;
    };
    const out = [
      '',
      `Registry benchmark: chain of ${image} (${files.length} files, ${mib(total)} MiB), ${runs} run(s), load at start ${startLoad}, at end ${loadavg()
        .map((l) => l.toFixed(2))
        .join(', ')}`,
      '',
      '| | kiln MiB | kiln s (median) | kiln peak RSS MiB | skopeo MiB | skopeo s (median) | skopeo peak RSS MiB | kiln/skopeo time |',
      '|---|---|---|---|---|---|---|---|',
      line('push', rows.kilnPush, rows.skopeoPush),
      line('pull', rows.kilnPull, rows.skopeoPull),
      '',
      'Bar: kiln/skopeo time ≤ 1.2×, kiln peak RSS < 200 MiB.',
      '',
    ].join('\n');
    process.stdout.write(out);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** The files kiln pushes for `id`'s chain, base first: each image's disk, then its other files. */
async function chainFiles(kilnHome, ref) {
  const { Catalog } = await import(join(root, 'dist/catalog/index.js'));
  const catalog = Catalog.open(kilnHome);
  try {
    const top = catalog.images.resolve(ref);
    return catalog.images
      .lineage(top.id)
      .reverse()
      .flatMap((img) => img.files);
  } finally {
    catalog.close();
  }
}

/** Compressed bytes of the layers of `repo:tag` (what skopeo uploaded). */
async function remoteBytes(address, repo, tag) {
  const r = await fetch(`http://${address}/v2/${repo}/manifests/${tag}`, {
    headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' },
  });
  const m = await r.json();
  return m.layers.reduce((n, l) => n + l.size, 0) + m.config.size;
}

main().catch((err) => {
  log(err instanceof Error ? err.message : String(err));
  process.exit(1);
});
