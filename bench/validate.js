#!/usr/bin/env node
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the strings are HCL source, where ${} is HCL syntax
// How long `kiln validate` takes: the template loaded in-process exactly as `kiln validate`
// loads it (parse, decode, variables, locals, sources, builds, every plugin's schema and
// prepare: "parse + evaluate"), for the sample's HCL2 and JSON build and release templates
// and for a generated 2,000-line HCL2 template; then the whole `kiln validate` command
// (a new node process: startup included) for reference. Target: parse + evaluate < 100 ms.
//
// Two figures of parse + evaluate, since a user only ever sees the first: "first load" is the
// first loadTemplate in a fresh node process that has imported what `kiln validate` imports
// (median over several processes: the code is still cold, V8 has not optimised it yet);
// "warm" is the median of the timed loads after 5 warm-up loads in this process.
//
//   npm run bench:validate            # 30 timed loads of each (after 5 to warm up), 7 fresh processes
//   npm run bench:validate -- --runs 100 --fresh 11
//
// The sample's templates start from catalog images and upload the package build-deb.sh makes:
// they are validated in a scratch copy of the sample, with a scratch catalog holding stand-ins
// for the base image and a build image, so nothing of the user's kiln home is read or written.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(fileURLToPath(import.meta.url), '../..');
const dist = (p) => join(root, 'dist', p);
const { loadTemplate } = await import(dist('template/index.js'));
const { registry } = await import(dist('plugins.js'));
const { Catalog } = await import(dist('catalog/index.js'));

const argv = process.argv.slice(2);
const childAt = argv.indexOf('--first-load-child');
if (childAt >= 0) {
  // One fresh process: time its first load of one template, print it, and stop.
  const c = JSON.parse(argv[childAt + 1]);
  const catalog = Catalog.openReadOnly(c.home);
  const s = performance.now();
  const cpu = process.cpuUsage();
  await loadTemplate(c.file, { registry, catalog, vars: c.vars, varFiles: c.varFiles });
  const used = process.cpuUsage(cpu);
  const wallMs = performance.now() - s;
  catalog.close();
  process.stdout.write(`${JSON.stringify({ wallMs, cpuMs: (used.user + used.system) / 1000 })}\n`);
  process.exit(0);
}
const runsAt = argv.indexOf('--runs');
const RUNS = runsAt >= 0 ? Number(argv[runsAt + 1]) : 30;
const freshAt = argv.indexOf('--fresh');
const FRESH = freshAt >= 0 ? Number(argv[freshAt + 1]) : 7;
const WARMUP = 5;
const CLI_RUNS = 5;
const BUILD_IMAGE = 'img-0123456789abcdef0';

/** A valid HCL2 template of about `lines` lines: variables, locals of every kind, sources, builds. */
function generated(lines) {
  const out = [];
  for (let i = 0; out.length < lines; i++) {
    out.push(
      `variable "v${i}" {`,
      '  type    = string',
      `  default = "value-${i}"`,
      '}',
      '',
      'locals {',
      `  l${i}_list = [for n in ["a", "b", "c"] : upper("\${n}-\${var.v${i}}") if n != "b"]`,
      `  l${i}_map  = { for k, v in { x = 1, y = 2 } : k => v * ${i} + 1 }`,
      `  l${i}_cond = length(var.v${i}) > 3 ? "long" : "short"`,
      `  l${i}_text = <<-EOT`,
      `    line one \${var.v${i}} \${join(",", local.l${i}_list)}`,
      '    %{~ for t in ["p", "q"] ~}',
      '    - ${t}',
      '    %{~ endfor ~}',
      '  EOT',
      '}',
      '',
      `source "null" "s${i}" {`,
      '  communicator = "none"',
      '}',
      '',
      'build {',
      `  name    = "b${i}"`,
      `  sources = ["source.null.s${i}"]`,
      '',
      '  provisioner "shell-local" {',
      `    inline = ["echo \${local.l${i}_cond} \${jsonencode(local.l${i}_map)}", local.l${i}_text]`,
      '  }',
      '}',
      '',
    );
  }
  return out.join('\n');
}

const scratch = mkdtempSync(join(tmpdir(), 'kiln-bench-validate-'));
const sample = join(scratch, 'hello-web');
const origin = join(root, 'examples/hello-web');
for (const p of ['packer', 'environments'])
  cpSync(join(origin, p), join(sample, p), { recursive: true });
mkdirSync(join(sample, 'dist'));
writeFileSync(join(sample, 'dist/hello-web_1.0.0_all.deb'), 'stand-in');
const home = join(scratch, 'home');
{
  const catalog = Catalog.open(home);
  for (const [name, id] of [['debian-12'], ['hello-web-build', BUILD_IMAGE]]) {
    const disk = join(scratch, `${name}.qcow2`);
    writeFileSync(disk, name);
    catalog.images.register({ name, builder: 'base', files: [disk], ...(id ? { id } : {}) });
  }
  catalog.close();
}
const bigFile = join(scratch, 'big.pkr.hcl');
const big = generated(2000);
writeFileSync(bigFile, big);

const release = {
  vars: [['source_image', BUILD_IMAGE]],
  varFiles: [join(sample, 'environments/dev.json')],
};
const cases = [
  { name: 'sample build, HCL2', file: join(sample, 'packer/packer-build.pkr.hcl') },
  { name: 'sample build, JSON', file: join(sample, 'packer/packer-build.json') },
  { name: 'sample release, HCL2', file: join(sample, 'packer/packer-release.pkr.hcl'), ...release },
  { name: 'sample release, JSON', file: join(sample, 'packer/packer-release.json'), ...release },
  { name: `generated HCL2, ${big.split('\n').length} lines`, file: bigFile },
];

const ms = (n) => `${n.toFixed(1)} ms`;
const stats = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return { median: s[Math.floor(s.length / 2)], min: s[0], max: s[s.length - 1] };
};

const catalog = Catalog.openReadOnly(home);
const rows = [];
try {
  for (const c of cases) {
    const opts = { registry, catalog, vars: c.vars ?? [], varFiles: c.varFiles ?? [] };
    const fresh = [];
    for (let i = 0; i < FRESH; i++) {
      const child = { file: c.file, home, vars: opts.vars, varFiles: opts.varFiles };
      const r = spawnSync(
        process.execPath,
        [fileURLToPath(import.meta.url), '--first-load-child', JSON.stringify(child)],
        { env: { ...process.env, KILN_HOME: home }, encoding: 'utf8' },
      );
      if (r.status !== 0)
        throw new Error(`first load of ${c.file} failed:\n${r.stdout}${r.stderr}`);
      fresh.push(JSON.parse(r.stdout));
    }
    const first = await loadTemplate(c.file, opts);
    for (let i = 0; i < WARMUP; i++) await loadTemplate(c.file, opts);
    const times = [];
    const cpuTimes = [];
    for (let i = 0; i < RUNS; i++) {
      const s = performance.now();
      const cpu = process.cpuUsage();
      await loadTemplate(c.file, opts);
      const used = process.cpuUsage(cpu);
      cpuTimes.push((used.user + used.system) / 1000);
      times.push(performance.now() - s);
    }
    const args = ['validate', ...(c.vars ?? []).flatMap(([k, v]) => ['-var', `${k}=${v}`])];
    for (const f of c.varFiles ?? []) args.push('-var-file', f);
    const cli = [];
    for (let i = 0; i < CLI_RUNS; i++) {
      const s = performance.now();
      const r = spawnSync(process.execPath, [join(root, 'bin/kiln.js'), ...args, c.file], {
        env: { ...process.env, KILN_HOME: home, NO_COLOR: '1' },
        encoding: 'utf8',
      });
      cli.push(performance.now() - s);
      if (r.status !== 0)
        throw new Error(`kiln validate ${c.file} failed:\n${r.stdout}${r.stderr}`);
    }
    rows.push({
      c,
      builds: first.builds.length,
      firstWall: stats(fresh.map((f) => f.wallMs)),
      firstCpu: stats(fresh.map((f) => f.cpuMs)),
      load: stats(times),
      cpu: stats(cpuTimes),
      cli: stats(cli),
    });
  }
} finally {
  catalog.close();
  rmSync(scratch, { recursive: true, force: true });
}

console.log(
  `kiln validate: parse + evaluate in-process — first load: the first in a fresh process (median of ${FRESH} processes); warm: ${RUNS} runs after ${WARMUP} warm-up loads in one process — and the whole command (${CLI_RUNS} runs)\n`,
);
console.log(
  '| template | builds | first load, wall | first load, CPU | warm median (wall) | min | max | warm CPU median | `kiln validate` median |',
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows)
  console.log(
    `| ${r.c.name} | ${r.builds} | ${ms(r.firstWall.median)} | ${ms(r.firstCpu.median)} | ${ms(r.load.median)} | ${ms(r.load.min)} | ${ms(r.load.max)} | ${ms(r.cpu.median)} | ${ms(r.cli.median)} |`,
  );
// CPU time is what a load costs (the process's: V8's compiler and GC threads count too); wall
// time also counts waiting for a core on a shared machine.
const load = loadavg()
  .map((n) => n.toFixed(2))
  .join(', ');
const verdict = (x) => (x < 100 ? 'met' : 'NOT met');
const worstWarm = Math.max(...rows.map((r) => r.cpu.median));
const worstFirst = Math.max(...rows.map((r) => r.firstWall.median));
const worstFirstCpu = Math.max(...rows.map((r) => r.firstCpu.median));
console.log(
  `\ntarget: parse + evaluate < 100 ms — first load (what a user sees): slowest wall median ${ms(worstFirst)}: ${verdict(worstFirst)} (CPU median ${ms(worstFirstCpu)}); warm: slowest CPU median ${ms(worstWarm)}: ${verdict(worstWarm)} (load average ${load})`,
);
