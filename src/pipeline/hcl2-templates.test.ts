import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Catalog } from '../catalog/index.js';
import { canonicalJson, computeInputHash } from '../core/input-hash.js';
import type { LoadedTemplate } from '../core/loaded-template.js';
import { registry } from '../plugins.js';
import { loadTemplate } from '../template/index.js';
import { loadPipeline } from './pipeline-file.js';

// `kiln pipeline` loads its build and release templates through loadTemplate, which picks
// the front end by the file name: the sample's pipeline file pointed at its `.pkr.hcl`
// templates must give every stage the same builds (the same input hash, so one image) and
// the same variables (the smoke test's `{{user \`http_port\`}}`) as the JSON templates.
const scratch = mkdtempSync(join(tmpdir(), 'kiln-pipeline-hcl2-'));
// a copy of the sample (its package step's .deb made up), and a catalog with the images the
// templates start from: the base (debian-12) and the build image a release is made from
const sample = join(scratch, 'hello-web');
const origin = resolve(import.meta.dirname, '../../examples/hello-web');
for (const p of ['kiln.pipeline.json', 'packer', 'environments'])
  cpSync(join(origin, p), join(sample, p), { recursive: true });
mkdirSync(join(sample, 'dist'));
writeFileSync(join(sample, 'dist/hello-web_1.0.0_all.deb'), 'not really a package');
const BUILD_IMAGE = 'img-0123456789abcdef0';
const catalog = Catalog.open(join(scratch, 'home'));
for (const [name, id] of [
  ['debian-12', undefined],
  ['hello-web-build', BUILD_IMAGE],
] as const) {
  const disk = join(scratch, `${name}.qcow2`);
  writeFileSync(disk, name);
  catalog.images.register({ name, builder: 'base', files: [disk], ...(id ? { id } : {}) });
}
afterAll(() => {
  catalog.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** The sample's pipeline file with its templates in the given format, read as `kiln pipeline` reads it. */
function pipelineWith(ext: '.json' | '.pkr.hcl') {
  const config = JSON.parse(readFileSync(join(sample, 'kiln.pipeline.json'), 'utf8'));
  config.build.template = `packer/packer-build${ext}`;
  config.release.template = `packer/packer-release${ext}`;
  // beside the sample, so its relative paths (environments/, packer/) resolve the same
  const file = join(sample, `.kiln.pipeline${ext}.test-${process.pid}.json`);
  writeFileSync(file, JSON.stringify(config));
  try {
    return loadPipeline(file);
  } finally {
    rmSync(file);
  }
}

/** The input hash of the template's build, with the parts it is made of. */
const hash = (t: LoadedTemplate) => computeInputHash(t.builds[0]!, { template: t, catalog });

/** What a stage's build is made of: the builder, provisioners and post-processors as loaded. */
function shape(t: LoadedTemplate) {
  const b = t.builds[0]!;
  return canonicalJson({
    builder: b.builder.config,
    provisioners: b.provisioners.map((p) => [p.type, p.config]),
    postProcessors: b.postProcessors.map((c) => c.map((p) => [p.type, p.config])),
  });
}

describe('kiln pipeline with HCL2 templates', () => {
  const json = pipelineWith('.json');
  const hcl = pipelineWith('.pkr.hcl');

  it('reads the build stage of either format into the same build', async () => {
    const load = (p: typeof json) =>
      loadTemplate(resolve(p.dir, p.config.build.template), {
        registry,
        catalog,
        vars: Object.entries(p.config.build.vars ?? {}),
        varFiles: (p.config.build.var_files ?? []).map((f) => resolve(p.dir, f)),
      });
    const [j, h] = [await load(json), await load(hcl)];
    expect(h.path.endsWith('packer-build.pkr.hcl')).toBe(true);
    expect(shape(h)).toBe(shape(j));
    expect(hash(h)).toEqual(hash(j));
  });

  it('reads every environment of the release stage into the same build, hash and variables', async () => {
    expect(hcl.environments.map((e) => e.name)).toEqual(['dev', 'staging', 'prod']);
    for (const [i, env] of hcl.environments.entries()) {
      const load = (p: typeof json) =>
        loadTemplate(resolve(p.dir, p.config.release.template), {
          registry,
          catalog,
          vars: [
            ...Object.entries(p.config.release.vars ?? {}),
            ...Object.entries(p.environments[i]!.vars),
            [p.config.release.image_var, BUILD_IMAGE],
          ],
          varFiles: [
            ...(p.config.release.var_files ?? []).map((f) => resolve(p.dir, f)),
            ...p.environments[i]!.varFiles,
          ],
        });
      const [j, h] = [await load(json), await load(hcl)];
      expect(shape(h), env.name).toBe(shape(j));
      expect(h.variables, env.name).toEqual(j.variables);
      expect(hash(h), env.name).toEqual(hash(j));
    }
  });
});
