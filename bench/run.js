#!/usr/bin/env node
// Side-by-side benchmark: kiln against the peer (Packer 1.6.6 + Ansible, Debian's packages)
// on the sample system, alternating A B A B. Prints median/min/max of both and kiln/peer for
// each case, the disk bytes of each image and kiln's peak memory; writes bench/RESULTS.md.
//
//   npm run bench                 # 3 runs of every case
//   npm run bench -- --quick      # 1 run of cases 1-2 (what CI runs so that it keeps working)
//   npm run bench -- --runs 5
//   npm run bench -- --case 6     # one case only (RESULTS.md is then left as it is)
//
// Cases: 1 build+release chain, cold · 2 boot of the release image to the first HTTP answer ·
// 3 the chain again, nothing changed · 4 one more environment's release · 5 three environments ·
// 6 the sample's whole pipeline (kiln.pipeline.json: all six steps), nothing changed.
// Cases 4 and 5 each have a second kiln row, "4c"/"5c": the same releases through the
// kiln-chroot builder (packer-release-chroot.json: no VM; needs root, else the rows are left
// out, said so) from the same build image; the peer's figure in those rows is its same VM
// release, measured once per run for both rows.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const root = resolve(here, '..');
const work = join(here, 'work');
const peerDir = join(work, 'peer');
const kilnHome = join(work, 'kiln-home');
const sample = join(root, 'examples/hello-web');
const kilnBin = join(root, 'bin/kiln.js');

const argv = process.argv.slice(2);
const quick = argv.includes('--quick');
const runsArg = argv.indexOf('--runs');
const runs = quick ? 1 : runsArg >= 0 ? Number(argv[runsArg + 1]) : 3;
const caseArg = argv.indexOf('--case');
const only = caseArg >= 0 ? Number(argv[caseArg + 1]) : undefined;
const cases = only ? [only] : quick ? [1, 2] : [1, 2, 3, 4, 5, 6];
// Cases 2-5 use the images case 1 makes.
const chain = cases.some((c) => c <= 5);

const startLoad = loadavg()
  .map((l) => l.toFixed(2))
  .join(', ');
// The chroot builder mounts images: root only.
const chrootOk = process.getuid?.() === 0;
const env = { ...process.env, KILN_HOME: kilnHome, PACKER_CACHE_DIR: join(work, 'packer_cache') };
delete env.PACKER_LOG;

function log(msg) {
  process.stderr.write(`bench: ${msg}\n`);
}

/** Runs a command to completion; returns {ms, stdout, peakKb}. Throws with its output tail on failure. */
async function timed(label, file, args, opts = {}) {
  const useTime = existsSync('/usr/bin/time') && opts.measureMemory;
  const cmd = useTime ? '/usr/bin/time' : file;
  const cmdArgs = useTime ? ['-f', 'KILN_BENCH_MAXRSS=%M', file, ...args] : args;
  const t0 = performance.now();
  const child = spawn(cmd, cmdArgs, { cwd: opts.cwd ?? root, env: { ...env, ...opts.env } });
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
  const m = /KILN_BENCH_MAXRSS=(\d+)/.exec(stderr);
  if (code !== 0) {
    const tail = `${stdout}\n${stderr}`.trim().split('\n').slice(-25).join('\n');
    throw new Error(`${label} failed (exit ${code}):\n${tail}`);
  }
  return { ms, stdout, peakKb: m ? Number(m[1]) : undefined };
}

function artifactId(stdout) {
  const line = stdout
    .split('\n')
    .filter((l) => l.includes(',artifact,0,id,'))
    .pop();
  return line?.split(',')[5];
}

function artifactFile(stdout) {
  const line = stdout
    .split('\n')
    .filter((l) => l.includes(',artifact,0,file,0,'))
    .pop();
  return line?.split(',').slice(6).join(',');
}

function du(file) {
  try {
    return statSync(file).blocks * 512;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------- set-up (not timed)

async function setup() {
  mkdirSync(work, { recursive: true });
  for (const tool of ['packer', 'ansible-playbook', 'qemu-system-x86_64', 'mmdebstrap']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      log(`installing the peer's tools (packer, ansible) with apt`);
      execFileSync(
        'sh',
        [
          '-c',
          'apt-get install -y -q --no-install-recommends packer ansible qemu-system-x86 qemu-utils mmdebstrap time',
        ],
        {
          stdio: 'inherit',
        },
      );
      break;
    }
  }
  log('packaging the sample (.deb)');
  const deb = execFileSync(join(sample, 'package/build-deb.sh'), {
    cwd: root,
    env,
    encoding: 'utf8',
  })
    .trim()
    .split('\n')
    .pop();
  if (!existsSync(join(peerDir, 'base.qcow2'))) {
    // The peer gets the same package set as kiln's base, made the way the measured anchor made it.
    const tar = join(work, 'rootfs.tar');
    // From the compiled module (npm run bench builds first): parsing the source would also
    // pick up quotes inside its comments.
    const { BASE_PACKAGES: pkgs } = await import(join(root, 'dist/base/debian.js'));
    log(`mmdebstrap for the peer's base (${pkgs.join(',')})`);
    execFileSync(
      'mmdebstrap',
      ['--variant=minbase', `--include=${pkgs.join(',')}`, 'bookworm', tar],
      { stdio: 'inherit' },
    );
    mkdirSync(peerDir, { recursive: true });
    execFileSync(join(here, 'peer/make-base.sh'), [tar, peerDir], { stdio: 'inherit' });
    rmSync(tar, { force: true });
  }
  log('kiln base debian-12');
  execFileSync('node', [kilnBin, 'base', 'debian-12'], {
    env,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  // kiln keeps a booted VM state beside an image (docs/warm-starts.md); the first build from
  // a new base boots and saves it. That is set-up, like the peer's base image: done here,
  // timed and reported on its own line, not hidden.
  if (!existsSync(join(dirname(kiln.diskOf('debian-12')), 'warm', 'meta.json'))) {
    log('first kiln build from the new base (saves its booted VM state)');
    firstBuild = await kiln.build(0, deb);
  }
  return deb;
}
let firstBuild;

// ---------------------------------------------------------------- the two sides

const peer = {
  async build(n, deb) {
    const out = join(peerDir, `out-build-${n}`);
    rmSync(out, { recursive: true, force: true });
    const r = await timed('packer build (build)', 'packer', [
      'build',
      '-machine-readable',
      '-force',
      '-var',
      `peer_dir=${peerDir}`,
      '-var',
      `deb=${deb}`,
      '-var',
      `output_dir=${out}`,
      join(here, 'peer/build.json'),
    ]);
    return { ...r, image: artifactFile(r.stdout) };
  },
  async release(n, source, port = '8080', envName = 'dev') {
    const out = join(peerDir, `out-release-${n}-${envName}`);
    rmSync(out, { recursive: true, force: true });
    const r = await timed(
      'packer build (release)',
      'packer',
      [
        'build',
        '-machine-readable',
        '-force',
        '-var',
        `peer_dir=${peerDir}`,
        '-var',
        `source_image=${source}`,
        '-var',
        `output_dir=${out}`,
        '-var',
        `playbook=${join(sample, 'packer/release.yml')}`,
        '-var',
        `http_port=${port}`,
        '-var',
        `environment=${envName}`,
        join(here, 'peer/release.json'),
      ],
      { env: { ANSIBLE_LOCAL_TEMP: join(work, 'ansible-tmp') } },
    );
    return { ...r, image: artifactFile(r.stdout) };
  },
  async boot(image) {
    const port = 18080 + Math.floor(Math.random() * 1000);
    const t0 = performance.now();
    const q = spawn(
      'qemu-system-x86_64',
      [
        '-accel',
        'tcg',
        '-m',
        '1024',
        '-smp',
        '2',
        '-nodefaults',
        '-display',
        'none',
        '-snapshot',
        '-kernel',
        join(peerDir, 'boot/vmlinuz'),
        '-initrd',
        join(peerDir, 'boot/initrd.img'),
        '-append',
        'root=/dev/vda rw console=ttyS0',
        '-drive',
        `file=${image},if=virtio,format=qcow2`,
        '-netdev',
        `user,id=n0,hostfwd=tcp:127.0.0.1:${port}-:8080`,
        '-device',
        'virtio-net-pci,netdev=n0',
      ],
      { stdio: 'ignore' },
    );
    try {
      const body = await pollHttp(port, 300_000);
      return { ms: performance.now() - t0, body };
    } finally {
      q.kill('SIGKILL');
    }
  },
};

const kiln = {
  async build(_n, _deb, { noCache = true } = {}) {
    const r = await timed(
      'kiln build (build)',
      'node',
      [
        kilnBin,
        'build',
        '-machine-readable',
        ...(noCache ? ['--no-cache'] : []),
        join(sample, 'packer/packer-build.json'),
      ],
      { measureMemory: true },
    );
    return { ...r, image: artifactId(r.stdout) };
  },
  async release(
    _n,
    source,
    port = '8080',
    envName = 'dev',
    { noCache = true, template = 'packer-release.json' } = {},
  ) {
    const r = await timed(
      `kiln build (release${template === 'packer-release.json' ? '' : `, ${template}`})`,
      'node',
      [
        kilnBin,
        'build',
        '-machine-readable',
        ...(noCache ? ['--no-cache'] : []),
        '-var',
        `source_image=${source}`,
        '-var',
        `http_port=${port}`,
        '-var',
        `environment=${envName}`,
        join(sample, 'packer', template),
      ],
      { measureMemory: true },
    );
    return { ...r, image: artifactId(r.stdout) };
  },
  async boot(image) {
    const port = 19080 + Math.floor(Math.random() * 1000);
    const t0 = performance.now();
    const r = await timed('kiln run', 'node', [
      kilnBin,
      'run',
      image,
      '-p',
      `${port}:8080`,
      '--quiet',
    ]);
    const id = r.stdout.trim().split('\n').pop();
    try {
      const body = await pollHttp(port, 300_000);
      return { ms: performance.now() - t0, body };
    } finally {
      execFileSync('node', [kilnBin, 'stop', id], { env, stdio: 'ignore' });
    }
  },
  diskOf(id) {
    const out = execFileSync('node', [kilnBin, 'images', 'inspect', id], { env, encoding: 'utf8' });
    return JSON.parse(out)[0]?.files?.[0];
  },
  /** Allocated bytes of the saved VM state kept beside an image (state, frozen layer). */
  warmBytes(id) {
    const dir = join(dirname(kiln.diskOf(id)), 'warm');
    return ['state.zst', 'layer.qcow2'].reduce((sum, f) => sum + (du(join(dir, f)) ?? 0), 0);
  },
  imageBytes(id) {
    const out = execFileSync('node', [kilnBin, 'images', 'inspect', id], { env, encoding: 'utf8' });
    return JSON.parse(out)[0]?.sizeBytes;
  },
};

async function pollHttp(port, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(1000) });
      const body = (await res.text()).trim();
      if (res.ok && body) return body;
    } catch {}
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`nothing answered on port ${port} within ${timeoutMs} ms`);
}

// ---------------------------------------------------------------- cases

const results = new Map(); // case (1…6, '4c', '5c') -> {peer: ms[], kiln: ms[]}
const sizes = {};
let kilnPeakKb = 0;
let kilnChrootPeakKb = 0;
let kilnChrootReleaseId;
const CHROOT = { template: 'packer-release-chroot.json' };

function record(c, side, ms) {
  if (!results.has(c)) results.set(c, { peer: [], kiln: [] });
  results.get(c)[side].push(ms);
}

function peak(r) {
  if (r.peakKb) kilnPeakKb = Math.max(kilnPeakKb, r.peakKb);
}

async function main() {
  const deb = await setup();
  let peerBuild;
  let peerRelease;
  let kilnBuildId;
  let kilnReleaseId;
  for (let n = 1; n <= runs; n++) {
    if (cases.includes(6)) await pipelineCase(n, deb);
    if (!chain) continue;
    // Case 1: the chain, cold (kiln with --no-cache: it must really build).
    log(`run ${n}: case 1 (peer)`);
    const pb = await peer.build(n, deb);
    const pr = await peer.release(n, pb.image);
    record(1, 'peer', pb.ms + pr.ms);
    peerBuild = pb.image;
    peerRelease = pr.image;
    log(`run ${n}: case 1 (kiln)`);
    const kb = await kiln.build(n, deb);
    const kr = await kiln.release(n, kb.image);
    peak(kb);
    peak(kr);
    record(1, 'kiln', kb.ms + kr.ms);
    kilnBuildId = kb.image;
    kilnReleaseId = kr.image;
    log(
      `run ${n}: chain peer ${(pb.ms / 1000).toFixed(1)}+${(pr.ms / 1000).toFixed(1)} s, kiln ${(kb.ms / 1000).toFixed(1)}+${(kr.ms / 1000).toFixed(1)} s`,
    );

    if (cases.includes(2)) {
      log(`run ${n}: case 2`);
      const bp = await peer.boot(peerRelease);
      const bk = await kiln.boot(kilnReleaseId);
      if (
        !bp.body.includes('Hello world on port 8080') ||
        !bk.body.includes('Hello world on port 8080')
      ) {
        throw new Error(`unexpected answers: peer "${bp.body}", kiln "${bk.body}"`);
      }
      record(2, 'peer', bp.ms);
      record(2, 'kiln', bk.ms);
    }
    if (cases.includes(3)) {
      // Case 3: nothing changed. The peer has no cache: it builds again (same as case 1).
      log(`run ${n}: case 3`);
      const pb3 = await peer.build(`${n}b`, deb);
      const pr3 = await peer.release(`${n}b`, pb3.image);
      record(3, 'peer', pb3.ms + pr3.ms);
      const kb3 = await kiln.build(n, deb, { noCache: false });
      const kr3 = await kiln.release(n, kb3.image, '8080', 'dev', { noCache: false });
      record(3, 'kiln', kb3.ms + kr3.ms);
    }
    if (cases.includes(4)) {
      log(`run ${n}: case 4`);
      const pr4 = await peer.release(`${n}s`, peerBuild, '8081', 'staging');
      record(4, 'peer', pr4.ms);
      const kr4 = await kiln.release(n, kilnBuildId, '8081', 'staging');
      peak(kr4);
      record(4, 'kiln', kr4.ms);
      if (chrootOk) {
        log(`run ${n}: case 4c (kiln, chroot builder)`);
        const kc4 = await kiln.release(n, kilnBuildId, '8081', 'staging', CHROOT);
        if (kc4.peakKb) kilnChrootPeakKb = Math.max(kilnChrootPeakKb, kc4.peakKb);
        kilnChrootReleaseId = kc4.image;
        record('4c', 'peer', pr4.ms);
        record('4c', 'kiln', kc4.ms);
        log(
          `run ${n}: case 4 peer ${(pr4.ms / 1000).toFixed(1)} s, kiln qemu ${(kr4.ms / 1000).toFixed(1)} s, kiln chroot ${(kc4.ms / 1000).toFixed(2)} s`,
        );
      }
    }
    if (cases.includes(5)) {
      // Case 5: three environments from one build image, kiln's releases running at once;
      // the peer's figure is the time of ONE release (the target: three in less than one).
      log(`run ${n}: case 5`);
      const pr5 = await peer.release(`${n}p`, peerBuild, '8082', 'prod');
      record(5, 'peer', pr5.ms);
      const t0 = performance.now();
      await Promise.all([
        kiln.release(n, kilnBuildId, '8080', 'dev'),
        kiln.release(n, kilnBuildId, '8081', 'staging'),
        kiln.release(n, kilnBuildId, '8082', 'prod'),
      ]);
      record(5, 'kiln', performance.now() - t0);
      if (chrootOk) {
        log(`run ${n}: case 5c (kiln, chroot builder)`);
        const t1 = performance.now();
        await Promise.all([
          kiln.release(n, kilnBuildId, '8080', 'dev', CHROOT),
          kiln.release(n, kilnBuildId, '8081', 'staging', CHROOT),
          kiln.release(n, kilnBuildId, '8082', 'prod', CHROOT),
        ]);
        record('5c', 'peer', pr5.ms);
        record('5c', 'kiln', performance.now() - t1);
      }
    }
  }
  if (!chain) return report();
  sizes.peerBase = du(join(peerDir, 'base.qcow2'));
  sizes.peerBuild = du(peerBuild);
  sizes.peerRelease = du(peerRelease);
  sizes.kilnBuild = kiln.imageBytes(kilnBuildId);
  sizes.kilnRelease = kiln.imageBytes(kilnReleaseId);
  if (kilnChrootReleaseId) sizes.kilnChrootRelease = kiln.imageBytes(kilnChrootReleaseId);
  sizes.kilnBase = kiln.imageBytes('debian-12');
  sizes.kilnBuildWarm = kiln.warmBytes(kilnBuildId);
  sizes.kilnBaseWarm = kiln.warmBytes('debian-12');
  report();
}

const CASES = {
  1: 'build + release chain, cold',
  2: 'boot of the release image → first HTTP answer',
  3: 'the chain again, nothing changed',
  4: 'one more environment’s release',
  '4c': 'one more environment’s release, kiln chroot builder (peer: its VM release)',
  5: 'three environments (peer: one)',
  '5c': 'three environments, kiln chroot builder (peer: one VM release)',
  6: 'pipeline, nothing changed (peer: full re-run)',
};

// ---------------------------------------------------------------- case 6: the pipeline

const pipelineFile = join(sample, 'kiln.pipeline.json');
let pipelineProfile;

/** The sample's environments as the pipeline file lists them: name and http_port. */
function sampleEnvironments() {
  const config = JSON.parse(readFileSync(pipelineFile, 'utf8'));
  return Object.entries(config.environments).map(([name, e]) => ({
    name,
    port: JSON.parse(readFileSync(join(sample, e.var_file), 'utf8')).http_port,
  }));
}

/** The pipeline file's command steps as the peer runs them: `sh -c` in the sample's directory. */
function sampleCommands() {
  const config = JSON.parse(readFileSync(pipelineFile, 'utf8'));
  const list = (v) => (typeof v === 'string' ? [v] : Array.isArray(v) ? v : list(v.command));
  return ['unit_tests', 'integration_tests', 'package'].flatMap((k) =>
    config[k] ? list(config[k]) : [],
  );
}

async function kilnPipeline(label) {
  const r = await timed(label, 'node', [kilnBin, 'pipeline', '--output', 'json', pipelineFile], {
    measureMemory: true,
  });
  const rows = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l))
    .filter((o) => o.type === 'step');
  return { ...r, rows };
}

/**
 * Case 6. kiln: `kiln pipeline` on the sample once untimed (it fills the caches: tests run,
 * images built, releases smoke-tested, dev deployed), then timed with nothing changed — every
 * step must then be skipped, reused or already done, else the case fails naming the step.
 * The peer has no cache: its equivalent is the full re-run — the pipeline file's commands,
 * `packer build` of the build image and one `packer build` per environment's release. It
 * has no smoke test or deploy step; those are not counted for it.
 */
async function pipelineCase(n, deb) {
  if (n === 1) {
    log('case 6: a first kiln pipeline run (untimed: fills the caches)');
    const first = await kilnPipeline('kiln pipeline (first run)');
    log(`case 6: first run took ${(first.ms / 1000).toFixed(1)} s`);
  }
  log(`run ${n}: case 6 (kiln)`);
  const k = await kilnPipeline('kiln pipeline (nothing changed)');
  peak(k);
  const did = k.rows.filter(
    (r) =>
      !(
        r.outcome === 'skipped' ||
        r.outcome === 'reused' ||
        (r.outcome === 'tested' && r.message === 'passed before') ||
        (r.outcome === 'deployed' && r.message === 'already serving')
      ),
  );
  if (did.length > 0)
    throw new Error(
      `case 6: kiln did work with nothing changed: ${did.map((r) => `${r.step}${r.environment ? ` ${r.environment}` : ''} ${r.outcome}`).join(', ')}`,
    );
  record(6, 'kiln', k.ms);
  const inSteps = k.rows.reduce((t, r) => t + r.durationMs, 0);
  pipelineProfile = {
    wallMs: k.ms,
    steps: k.rows.map(
      (r) => `${r.step}${r.environment ? ` ${r.environment}` : ''} ${r.durationMs} ms`,
    ),
    inSteps,
  };
  log(
    `run ${n}: case 6 kiln ${(k.ms / 1000).toFixed(2)} s; steps: ${pipelineProfile.steps.join(', ')}`,
  );

  log(`run ${n}: case 6 (peer)`);
  const t0 = performance.now();
  for (const cmd of sampleCommands())
    await timed(`peer: ${cmd}`, 'sh', ['-c', cmd], { cwd: sample });
  const pb = await peer.build(`${n}pl`, deb);
  for (const e of sampleEnvironments()) await peer.release(`${n}pl`, pb.image, e.port, e.name);
  record(6, 'peer', performance.now() - t0);
}

function stats(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const med = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return { med, min: s[0], max: s.at(-1) };
}

function report() {
  const sec = (ms) => (ms / 1000).toFixed(2);
  const rows = [];
  const rowKeys = cases.flatMap((c) => (c === 4 || c === 5 ? [c, `${c}c`] : [c]));
  for (const c of rowKeys) {
    const r = results.get(c);
    if (!r) continue;
    const p = stats(r.peer);
    const k = stats(r.kiln);
    rows.push(
      `| ${c}. ${CASES[c]} | ${sec(p.med)} (${sec(p.min)}–${sec(p.max)}) | ${sec(k.med)} (${sec(k.min)}–${sec(k.max)}) | ${(k.med / p.med).toFixed(3)} | ${(p.med / k.med).toFixed(1)}× |`,
    );
  }
  const mib = (b) => (b === undefined ? '?' : `${(b / 1048576).toFixed(1)} MiB`);
  const text = [
    `# kiln vs Packer 1.6.6 + Ansible — ${new Date().toISOString()}`,
    '',
    `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, QEMU under TCG. Runs per case: ${runs}, alternating peer, kiln.`,
    '',
    '| case | peer s, median (min–max) | kiln s, median (min–max) | kiln/peer | speed-up |',
    '|---|---|---|---|---|',
    ...rows,
    '',
    ...(pipelineProfile
      ? [
          `Case 6, kiln's last run: ${sec(pipelineProfile.wallMs)} s wall, ${sec(pipelineProfile.inSteps)} s inside the steps (${pipelineProfile.steps.join('; ')}); the rest is starting node, loading kiln and opening the catalog.`,
          '',
        ]
      : []),
    ...(chain
      ? [
          `Disk (allocated): peer base ${mib(sizes.peerBase)}, build ${mib(sizes.peerBuild)}, release ${mib(sizes.peerRelease)}; kiln base ${mib(sizes.kilnBase)}, build ${mib(sizes.kilnBuild)}, release ${mib(sizes.kilnRelease)}${sizes.kilnChrootRelease !== undefined ? `, release by the chroot builder ${mib(sizes.kilnChrootRelease)}` : ''}.`,
          `kiln's saved VM states (allocated, beside the images; what makes builds start warm): base ${mib(sizes.kilnBaseWarm)}, build ${mib(sizes.kilnBuildWarm)}.${firstBuild ? ` The first kiln build from the new base (boot, saving the base's booted state) took ${sec(firstBuild.ms)} s, in set-up.` : ''}`,
        ]
      : []),
    `kiln peak memory (GNU time's max RSS over a kiln build's process tree, i.e. the largest one: QEMU with its 1 GiB guest): ${kilnPeakKb ? `${(kilnPeakKb / 1024).toFixed(0)} MiB` : 'not measured (install GNU time)'}.`,
    ...(kilnChrootPeakKb
      ? [
          `kiln peak memory, chroot builder release (largest process of its tree: kiln, ansible-playbook or qemu-storage-daemon): ${(kilnChrootPeakKb / 1024).toFixed(0)} MiB.`,
        ]
      : []),
    ...((cases.includes(4) || cases.includes(5)) && !chrootOk
      ? ['Rows 4c/5c (chroot builder) left out: the bench did not run as root.']
      : []),
    `Load average when the run ended: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(', ')} (other engineers' VMs share the 2 cores; at start: ${startLoad}).`,
    '',
  ].join('\n');
  process.stdout.write(`${text}\n`);
  if (!quick && only === undefined) writeFileSync(join(here, 'RESULTS.md'), text);
}

main()
  .catch((err) => {
    process.stderr.write(`bench: ${err.message}\n`);
    process.exitCode = 1;
  })
  .finally(() => {
    // Case 6 deploys dev to a local group: stop it (only this bench's kiln home is touched).
    if (cases.includes(6))
      try {
        execFileSync('node', [kilnBin, 'stop', '--all'], { env, stdio: 'ignore' });
      } catch {}
  });
