import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Catalog } from '../catalog/index.js';
import { UserError } from '../lib/errors.js';
import { loadTemplate } from './index.js';
import type { Registry } from './types.js';

// A small registry standing in for the real plugins: same shape, schemas only.
const stub = {
  run: async () => undefined,
  provision: async () => {},
  postProcess: async () => ({}) as never,
};
const registry: Registry = {
  builders: {
    null: {
      ...stub,
      type: 'null',
      builderId: 'fnord',
      schema: z.strictObject({
        communicator: z.string().optional(),
        ssh_host: z.string().optional(),
        ssh_username: z.string().optional(),
        ssh_port: z.number().int().optional(),
      }),
    },
    file: {
      ...stub,
      type: 'file',
      builderId: 'file',
      schema: z.strictObject({
        target: z.string(),
        content: z.string().optional(),
        source: z.string().optional(),
      }),
      prepare: async (c: { content?: string; source?: string }) => ({
        warnings: [],
        errors:
          c.content === undefined && c.source === undefined
            ? [{ key: 'content', message: 'content or source is required' }]
            : [],
      }),
    },
  },
  provisioners: {
    'shell-local': {
      ...stub,
      type: 'shell-local',
      lateKeys: ['execute_command'],
      schema: z.strictObject({
        inline: z.array(z.string()).optional(),
        command: z.string().optional(),
        execute_command: z.array(z.string()).optional(),
        valid_exit_codes: z.array(z.number().int()).optional(),
      }),
    },
  },
  postProcessors: {
    manifest: {
      ...stub,
      type: 'manifest',
      schema: z.strictObject({ output: z.string().optional(), strip_path: z.boolean().optional() }),
    },
    checksum: {
      ...stub,
      type: 'checksum',
      schema: z.strictObject({
        checksum_types: z.array(z.string()).optional(),
        output: z.string().optional(),
      }),
    },
  },
};

const dir = mkdtempSync(join(tmpdir(), 'kiln-tpl-'));
// No catalog under `dir`: read-only, it reads as an empty one and creates nothing.
const catalog = Catalog.openReadOnly(dir);
let n = 0;
function write(content: unknown, name = `t${n++}.json`): string {
  const p = join(dir, name);
  writeFileSync(p, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return p;
}
const load = (p: string, extra: Record<string, unknown> = {}) =>
  loadTemplate(p, { registry, catalog, env: { HOME: '/home/u' }, ...extra });

async function errorOf(p: Promise<unknown>): Promise<UserError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof UserError) return err;
    throw err;
  }
  throw new Error('expected a UserError');
}

const nullB = { type: 'null', communicator: 'none' };

describe('loadTemplate', () => {
  it('reports malformed JSON with file:line:column and a caret', async () => {
    const p = write('{\n  "builders": [\n    {"type": "null",, "communicator": "none"}\n  ]\n}\n');
    const err = await errorOf(load(p));
    expect(err.message).toBe(`${p}:3:21: invalid JSON: expected a property name in double quotes`);
    expect(err.details.at(-1)).toBe(`  | ${' '.repeat(20)}^`);
    const trailing = await errorOf(load(write('{"builders": [{"type": "null"},]}')));
    expect(trailing.message).toMatch(/:1:32: invalid JSON/);
    expect(
      (await errorOf(load(write('{"builders": [{"type": "null", "type": "file"}]}')))).message,
    ).toMatch(/duplicate key "type"/);
  });

  it('merges variables: defaults < var files (later wins) < -var, with env only in defaults', async () => {
    const p = write({
      variables: { a: 'def', b: 'def', c: '{{env `HOME`}}/x', d: '{{user `a`}}-d', s: 'secret' },
      'sensitive-variables': ['s'],
      builders: [nullB],
    });
    const f1 = write({ a: 'f1', b: 'f1' });
    const f2 = write({ b: 'f2' });
    const t = await load(p, { varFiles: [f1, f2], vars: [['a', 'cli']] });
    expect(t.variables).toEqual({ a: 'cli', b: 'f2', c: '/home/u/x', d: 'cli-d', s: 'secret' });
    expect(t.sensitiveVariables).toEqual(['s']);
    expect(t.sensitiveValues).toEqual(['secret']);
    const undeclared = await load(p, { vars: [['zz', '1']] });
    expect(undeclared.warnings.join('\n')).toMatch(/"zz"/);
  });

  it('names a missing required variable and how to pass it', async () => {
    const p = write({ variables: { region: null }, builders: [nullB] });
    const err = await errorOf(load(p));
    expect(err.message).toBe('required variable "region" is not set');
    expect(err.hint).toMatch(/-var region=value/);
    expect(err.hint).toMatch(/-var-file/);
    expect(err.details[0]).toMatch(/:3:5: variable "region"/);
  });

  it('maps schema problems to file:line:column with the nearest key', async () => {
    const p = write({
      builders: [{ type: 'null', comunicator: 'none', ssh_port: 'abc' }],
      provisioners: [{ type: 'shell-local', inlin: ['x'] }],
    });
    const err = await errorOf(load(p));
    expect(err.details).toEqual([
      `${p}:5:7: builders[0].comunicator: unknown key "comunicator"; did you mean "communicator"?`,
      `${p}:6:19: builders[0].ssh_port: expected a number, found string`,
      `${p}:12:7: provisioners[0].inlin: unknown key "inlin"; did you mean "inline"?`,
    ]);
  });

  it('decodes weakly like Packer: numbers as strings, "a,b" as a list', async () => {
    const p = write({
      builders: [{ type: 'null', ssh_host: 5, ssh_port: '22' }],
      provisioners: [{ type: 'shell-local', inline: 'a,b' }],
    });
    const t = await load(p);
    expect(t.builds[0]!.builder.config).toEqual({ ssh_host: '5', ssh_port: 22 });
    expect(t.builds[0]!.provisioners[0]!.config).toEqual({ inline: ['a', 'b'] });
  });

  it('rejects unknown types with a suggestion, duplicate names, env outside variables and bad durations', async () => {
    const e1 = await errorOf(
      load(write({ builders: [{ type: 'nul' }], 'post-processors': ['manifes'] })),
    );
    expect(e1.details.join('\n')).toMatch(
      /builders\[0\]\.type: unknown builder type "nul"; did you mean "null"\?/,
    );
    expect(e1.details.join('\n')).toMatch(
      /post-processors\[0\]: unknown post-processor type "manifes"; did you mean "manifest"\?/,
    );
    const e2 = await errorOf(load(write({ builders: [nullB, nullB] })));
    expect(e2.details[0]).toMatch(/a builder named "null" already exists/);
    const e3 = await errorOf(
      load(write({ builders: [{ type: 'file', target: '{{env `HOME`}}' }] })),
    );
    expect(e3.details[0]).toMatch(/builders\[0\]\.target: .*env vars are not allowed here/);
    const e4 = await errorOf(
      load(
        write({
          builders: [nullB],
          provisioners: [{ type: 'shell-local', inline: ['x'], pause_before: '10x' }],
        }),
      ),
    );
    expect(e4.details[0]).toMatch(
      /provisioners\[0\]\.pause_before: time: unknown unit "x" in duration "10x"/,
    );
    const e5 = await errorOf(load(write({ builders: [nullB], foo: 1, _comment: 'fine' })));
    expect(e5.details[0]).toMatch(/unknown root level key "foo"/);
    const e6 = await errorOf(load(write({ min_packer_version: '1.7.0', builders: [nullB] })));
    expect(e6.message).toBe('This template requires Packer version 1.7.0 or higher; using 1.6.6');
  });

  it('applies only/except, overrides, -only/-except and post-processor chains', async () => {
    const p = write({
      variables: { n: 'second' },
      builders: [
        { ...nullB, name: 'first' },
        {
          type: 'file',
          name: '{{user `n`}}',
          target: 'out',
          content: '{{build_name}} {{build_type}}',
        },
      ],
      provisioners: [
        {
          type: 'shell-local',
          inline: ['a'],
          only: ['first'],
          pause_before: '1m30s',
          max_retries: '{{user `n` | len}}',
        },
        {
          type: 'shell-local',
          inline: ['b'],
          override: { first: { inline: ['b-first'] } },
          timeout: '500ms',
        },
        {
          type: 'shell-local',
          inline: ['c'],
          except: ['first'],
          execute_command: ['sh', '{{ .Path }}'],
        },
      ],
      'post-processors': [
        'manifest',
        { type: 'checksum', name: 'sums', only: ['first'] },
        [{ type: 'manifest', output: 'm.json' }, 'checksum'],
      ],
    });
    const err = await errorOf(load(p));
    expect(err.details[0]).toMatch(/function "len" not defined/);
    const fixed = p.replace('.json', '-ok.json');
    writeFileSync(
      fixed,
      (await import('node:fs')).readFileSync(p, 'utf8').replace('{{user `n` | len}}', '2'),
    );
    const t = await load(fixed);
    expect(t.builds.map((b) => b.name)).toEqual(['first', 'second']);
    const [first, second] = t.builds;
    expect(first!.provisioners.map((x) => x.config)).toEqual([
      { inline: ['a'] },
      { inline: ['b-first'] },
    ]);
    expect(first!.provisioners[0]).toMatchObject({ pauseBeforeMs: 90_000, maxRetries: 2 });
    expect(first!.provisioners[1]).toMatchObject({ timeoutMs: 500 });
    expect(second!.builder.config).toEqual({ target: 'out', content: 'second file' });
    expect(second!.provisioners.map((x) => x.config)).toEqual([
      { inline: ['b'] },
      { inline: ['c'], execute_command: ['sh', '{{ .Path }}'] },
    ]);
    expect(second!.interpolate('sh {{ .Path }}', { Path: '/tmp/s' })).toBe('sh /tmp/s');
    expect(first!.postProcessors.map((c) => c.map((pp) => pp.name ?? pp.type))).toEqual([
      ['manifest'],
      ['sums'],
      ['manifest', 'checksum'],
    ]);
    expect(second!.postProcessors.map((c) => c.length)).toEqual([1, 2]);
    const onlySecond = await load(fixed, { only: ['second'] });
    expect(onlySecond.builds.map((b) => b.name)).toEqual(['second']);
    const exceptFirst = await load(fixed, { except: ['first', 'manifest'] });
    expect(exceptFirst.builds.map((b) => b.name)).toEqual(['second']);
    expect(exceptFirst.builds[0]!.postProcessors).toEqual([]);
  });

  it('binds {{ build }} late in provisioners and rejects it in builders', async () => {
    const p = write({
      builders: [nullB],
      provisioners: [
        { type: 'shell-local', inline: ['ssh {{ build `User` }}@{{ build `Host` }}'] },
      ],
    });
    const t = await load(p);
    const prov = t.builds[0]!.provisioners[0]!;
    expect(prov.resolve({ User: 'root', Host: '10.0.2.15' })).toEqual({
      inline: ['ssh root@10.0.2.15'],
    });
    expect(() => prov.resolve({})).toThrow(/cannot resolve values the build generated/);
    try {
      prov.resolve({ Host: 'h' });
    } catch (err) {
      expect((err as UserError).details[0]).toMatch(
        /provisioners\[0\]\.inline\[0\]: .*did not provide "User"/,
      );
    }
    const e = await errorOf(
      load(write({ builders: [{ ...nullB, ssh_host: '{{ build `Host` }}' }] })),
    );
    expect(e.details[0]).toMatch(/will not be passed into your plugin/);
  });
});
