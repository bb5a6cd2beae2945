import { describe, expect, it } from 'vitest';
import { UserError } from '../lib/errors.js';
import { inspectLines } from './inspect.js';
import { parseJsonSource } from './json-source.js';
import { parseRawTemplate, validateRawTemplate } from './raw-template.js';

const parse = (v: unknown) =>
  parseRawTemplate(parseJsonSource('t.json', JSON.stringify(v, null, 2)));
function problems(fn: () => unknown): string[] {
  try {
    fn();
  } catch (err) {
    if (err instanceof UserError) return err.details;
    throw err;
  }
  throw new Error('expected a UserError');
}

describe('parseRawTemplate', () => {
  it('reads the three post-processor forms and provisioner timings', () => {
    const t = parse({
      builders: [{ type: 'null' }],
      provisioners: [
        {
          type: 'shell-local',
          pause_before: '1m30s',
          timeout: '500ms',
          max_retries: 3,
          only: 'null',
        },
      ],
      'post-processors': [
        'manifest',
        { type: 'checksum', name: 'sums', keep_input_artifact: true },
        ['manifest', { type: 'checksum', except: ['null'] }],
      ],
      _comment: 'kept',
    });
    expect(t.comments).toEqual({ _comment: 'kept' });
    expect(t.provisioners[0]).toMatchObject({
      pauseBeforeMs: 90_000,
      timeoutMs: 500,
      maxRetries: '3',
      only: ['null'],
      config: {},
    });
    expect(
      t.postProcessors.map((c) => c.map((p) => [p.type, p.name, p.keepInputArtifact])),
    ).toEqual([
      [['manifest', 'manifest', undefined]],
      [['checksum', 'sums', true]],
      [
        ['manifest', 'manifest', undefined],
        ['checksum', 'checksum', undefined],
      ],
    ]);
  });

  it('gathers every structural problem at once, in source order', () => {
    const details = problems(() =>
      parse({
        variables: { n: 5 },
        builders: [{ type: 'null' }, { type: 'null' }, { name: 'x' }],
        'post-processors': [[['manifest']], { type: 'manifest', keep_input_artifact: 'yes' }],
        provisoners: [],
      }),
    );
    expect(details).toEqual([
      't.json:3:10: variables.n: variable "n": the default must be a string or null, found number',
      't.json:9:5: builders[1]: a builder named "null" already exists (builders[0]); give each builder a unique "name"',
      't.json:12:5: builders[2]: builder 3 is missing "type"',
      't.json:18:7: post-processors[0][0]: a sequence is not allowed inside a sequence of post-processors',
      't.json:24:30: post-processors[1].keep_input_artifact: expected true or false, found string',
      't.json:27:3: provisoners: unknown root level key "provisoners"; did you mean "provisioners"?'.replace(
        '"provisioners";',
        '"provisoners";',
      ),
    ]);
  });

  it('takes a string "$schema" (an editor\'s JSON Schema) and ignores it; Packer 1.6.6 refuses it', () => {
    const t = parse({
      $schema: '../schemas/kiln-template.schema.json',
      builders: [{ type: 'null' }],
    });
    expect(t.builders.map((b) => b.type)).toEqual(['null']);
    expect(t.comments).toEqual({});
    expect(problems(() => parse({ $schema: 1, builders: [{ type: 'null' }] }))).toEqual([
      't.json:2:14: ["$schema"]: expected the path or URL of a JSON Schema, found number',
    ]);
  });

  it('checks only/except/override names like Template.Validate', () => {
    const t = parse({
      builders: [{ type: 'null', name: 'a' }],
      provisioners: [{ type: 'x', only: ['b'], override: { c: {} } }],
    });
    const details = problems(() => validateRawTemplate(t));
    expect(details.join('\n')).toMatch(
      /"only" names builder "b", which does not exist; did you mean "a"\?/,
    );
    expect(details.join('\n')).toMatch(/override names builder "c"/);
  });
});

describe('inspectLines', () => {
  it('prints what packer inspect prints, hiding sensitive defaults', () => {
    const t = parse({
      description: 'demo',
      variables: { region: null, password: 'p', a: 'x' },
      'sensitive-variables': ['password'],
      builders: [{ type: 'null' }, { type: 'file', name: 'longer-name' }],
      provisioners: [{ type: 'shell-local' }],
    });
    const text = inspectLines(t)
      .flatMap((l) => ('say' in l ? [`${l.say}\n`] : []))
      .join('');
    expect(text).toContain('Required variables:\n\n  region\n\n');
    expect(text).toContain('  a        = x\n  password = <sensitive>\n');
    expect(text).toContain('  longer-name (file)\n  null       \n');
    expect(inspectLines(t)).toContainEqual({
      machine: 'template-variable',
      args: ['password', '<sensitive>', '0'],
    });
  });
});
