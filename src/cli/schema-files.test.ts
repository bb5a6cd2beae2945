import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { describe, expect, it } from 'vitest';
import { schemaFiles } from './schema-files.js';

const ROOT = join(import.meta.dirname, '../..');
const files = schemaFiles();
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/** A validator for one published schema, as an editor would load it (draft-07, formats not checked). */
function validator(path: string) {
  const ajv = new Ajv({ allErrors: true, strict: false, validateFormats: false });
  const validate = ajv.compile(JSON.parse(files[path]!));
  return (value: unknown) =>
    validate(value) ? [] : (validate.errors ?? []).map((e) => `${e.instancePath} ${e.message}`);
}

describe('schemas/', () => {
  it('holds exactly what the zod schemas generate (else: npm run schemas)', () => {
    expect(readdirSync(join(ROOT, 'schemas')).sort()).toEqual(
      Object.keys(files)
        .map((p) => p.replace('schemas/', ''))
        .sort(),
    );
    for (const [path, text] of Object.entries(files))
      expect(read(path), `${path} is stale: run npm run schemas`).toBe(text);
  });
});

describe('the template schema', () => {
  const check = validator('schemas/kiln-template.schema.json');
  const corpus = join('test/corpus/templates');
  const index = JSON.parse(read(join(corpus, 'index.json'))) as {
    cases: Array<{ file: string; expect: string; kiln?: string; args?: string[] }>;
  };

  it('accepts every template of the corpora and examples that kiln accepts', () => {
    const accepted = [
      ...index.cases
        .filter((c) => c.expect === 'valid' && c.kiln !== 'invalid')
        // Valid only because a flag leaves the broken part out (-only good, -syntax-only).
        .filter((c) => !c.args?.some((a) => ['-syntax-only', '-only', '-except'].includes(a)))
        .map((c) => join(corpus, c.file)),
      ...readdirSync(join(ROOT, 'test/corpus/build')).map((d) =>
        join('test/corpus/build', d, 'template.json'),
      ),
      ...readdirSync(join(ROOT, 'examples/hello-web/packer'))
        .filter((f) => f.endsWith('.json'))
        .map((f) => join('examples/hello-web/packer', f)),
    ];
    expect(accepted.length).toBeGreaterThan(40);
    for (const path of accepted) expect(check(JSON.parse(read(path))), path).toEqual([]);
  });

  it('flags the structural mistakes kiln rejects', () => {
    for (const file of [
      'unknown-root-key.json',
      'unknown-key-builder.json',
      'unknown-key-provisioner.json',
      'unknown-key-post-processor.json',
      'unknown-builder-type.json',
      'unknown-provisioner-type.json',
      'unknown-post-processor-type.json',
      'missing-builder-type.json',
      'no-builders.json',
      'comment-not-string.json',
      'non-string-var-default.json',
      'wrong-type-object.json',
    ])
      expect(check(JSON.parse(read(join(corpus, file)))), file).not.toEqual([]);
  });

  it('takes $schema, weakly typed values and {{ }} in enums, as kiln does', () => {
    const tpl = (builder: Record<string, unknown>) => ({
      $schema: '../schemas/kiln-template.schema.json',
      builders: [{ type: 'qemu', ...builder }],
    });
    expect(check(tpl({ cpus: '{{user `cpus`}}', disk_size: 40960, headless: 'true' }))).toEqual([]);
    expect(check(tpl({ accelerator: '{{user `accel`}}' }))).toEqual([]);
    expect(check(tpl({ cpus: { n: 2 } }))).not.toEqual([]);
    expect(check(tpl({ cpu: 2 }))).not.toEqual([]);
  });
});

describe('the pipeline schema', () => {
  const check = validator('schemas/kiln-pipeline.schema.json');

  it("accepts the sample's pipeline file and flags a misspelt key", () => {
    const sample = JSON.parse(read('examples/hello-web/kiln.pipeline.json'));
    expect(sample.$schema).toBe('../../schemas/kiln-pipeline.schema.json');
    expect(check(sample)).toEqual([]);
    expect(check({ ...sample, enviroments: sample.environments })).not.toEqual([]);
    const { build: _b, ...noBuild } = sample;
    expect(check(noBuild)).not.toEqual([]);
  });
});
