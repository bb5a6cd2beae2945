/**
 * `--output json` on the commands that change things (issue 16, item 5): validate, images
 * rm|tag|untag|prune, gc, stop, run and deploy local print one JSON object on stdout, and a
 * failure as the JSON error object. `kiln run` and `kiln stop` with a real VM are in
 * runtime-run.test.ts, `deploy local` in ci-workflows.test.ts (the CI files read its JSON),
 * `gc aws` in aws-gc.test.ts.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/index.js';
import { kiln as run } from './helpers/kiln.js';
import { type SmallCatalog, smallCatalog } from './helpers/small-catalog.js';

let c: SmallCatalog;
const kiln = (...args: string[]) => run(args, { home: c.home, cwd: c.root });
const json = async (...args: string[]) => {
  const r = await kiln(...args);
  expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
  return JSON.parse(r.stdout);
};
const jsonError = async (...args: string[]) => {
  const r = await kiln(...args);
  expect(r.code, args.join(' ')).toBe(1);
  const e = JSON.parse(r.stdout);
  expect(e.type).toBe('error');
  return e.error as { code: string; message: string; where?: string; details?: string[] };
};

beforeEach(() => {
  c = smallCatalog();
});
afterEach(() => rmSync(c.root, { recursive: true, force: true }));

describe('--output json', () => {
  it('is offered by every command that prints a result, with one description', async () => {
    for (const cmd of [
      ['validate'],
      ['images', 'rm'],
      ['images', 'tag'],
      ['images', 'untag'],
      ['images', 'prune'],
      ['gc'],
      ['gc', 'aws'],
      ['stop'],
      ['run'],
      ['deploy', 'local'],
      ['build'],
      ['pipeline'],
      ['push'],
      ['pull'],
      ['images', 'ls'],
      ['ps'],
      ['doctor'],
      ['version'],
    ]) {
      const help = (await kiln(...cmd, '--help')).stdout;
      expect(help, cmd.join(' ')).toMatch(/--output <format>\s+json: /);
      // Every command refuses another format the same way.
      const bad = await kiln(...cmd, '--output', 'yaml');
      expect(bad.stderr, cmd.join(' ')).toContain(
        "argument 'yaml' is invalid. Allowed choices are json.",
      );
    }
  });

  it('validate: {valid, syntaxOnly, warnings}, and a template error as the error object', async () => {
    const tpl = join(c.root, 't.json');
    writeFileSync(tpl, JSON.stringify({ builders: [{ type: 'null', communicator: 'none' }] }));
    expect(await json('validate', '--output', 'json', tpl)).toEqual({
      valid: true,
      syntaxOnly: false,
      warnings: [],
    });
    expect((await json('validate', '--syntax-only', '--output', 'json', tpl)).syntaxOnly).toBe(
      true,
    );
    writeFileSync(tpl, '{\n  "builders": [{ "type": "null", "comunicator": "none" }]\n}\n');
    const e = await jsonError('validate', '--output', 'json', tpl);
    expect(e.code).toBe('TemplateInvalid');
    expect(e.details).toEqual([
      `${tpl}:2:34: builders[0].comunicator: unknown key "comunicator"; did you mean "communicator"?`,
    ]);
  });

  it('images rm, tag, untag: what changed; refusals as the error object', async () => {
    expect(await json('images', 'tag', '--output', 'json', 'dev', 'blue')).toEqual({
      id: c.dev.id,
      tag: 'blue',
      movedFrom: null,
    });
    expect(await json('images', 'tag', '--output', 'json', 'hello-web-build', 'blue')).toEqual({
      id: c.build.id,
      tag: 'blue',
      movedFrom: c.dev.id,
    });
    expect(await json('images', 'untag', '--output', 'json', 'blue', 'blue')).toEqual({
      id: c.build.id,
      tag: 'blue',
    });
    expect((await jsonError('images', 'rm', '--output', 'json', 'hello-web-build')).code).toBe(
      'ImageHasChildren',
    );
    expect(await json('images', 'rm', '--output', 'json', 'dev')).toEqual({
      removed: [{ id: c.dev.id, name: 'hello-web-dev' }],
      notes: [],
    });
    expect((await jsonError('images', 'rm', '--output', 'json', 'dev')).code).toBe('ImageNotFound');
  });

  it('images prune: {dryRun, removed, kept, failed}; -q prints only the ids removed', async () => {
    {
      using catalog = Catalog.open(c.home);
      const dir = join(catalog.imagesDir, 'dev2');
      mkdirSync(dir);
      writeFileSync(join(dir, 'disk.qcow2'), 'x');
      catalog.images.register({
        id: 'img-7b1234567890abcde',
        name: 'hello-web-dev',
        builder: 'qemu',
        parentId: c.build.id,
        files: [join(dir, 'disk.qcow2')],
      });
    }
    const dry = await json('images', 'prune', '--keep', '1', '--dry-run', '--output', 'json');
    expect(dry.dryRun).toBe(true);
    expect(dry.removed).toEqual([{ id: c.dev.id, name: 'hello-web-dev' }]);
    expect(dry.failed).toEqual([]);
    expect((await kiln('images', 'prune', '--keep', '1', '-q')).stdout).toBe(`${c.dev.id}\n`);
  });

  it('gc: {dryRun, actions, runs}', async () => {
    {
      using catalog = Catalog.open(c.home);
      mkdirSync(join(catalog.imagesDir, 'stray-dir'));
    }
    const dry = await json('gc', '--dry-run', '--output', 'json');
    expect(dry).toEqual({
      dryRun: true,
      runs: [],
      actions: [expect.objectContaining({ kind: 'stray', outcome: 'would-remove' })],
    });
    expect((await json('gc', '--output', 'json')).actions[0].outcome).toBe('removed');
    expect(await json('gc', '--output', 'json')).toEqual({ dryRun: false, actions: [], runs: [] });
  });

  it('stop: {stopped}; one that does not stop makes the error object say which did', async () => {
    {
      using catalog = Catalog.open(c.home);
      catalog.instances.add({ id: 'i-0ff9a000000000001', imageId: c.dev.id, backend: 'local' });
      catalog.instances.update('i-0ff9a000000000001', { state: 'stopped' });
    }
    const e = await jsonError('stop', '--output', 'json', 'i-0ff9a000000000001', 'i-nope');
    expect(e.code).toBe('StopFailed');
    expect(e.details).toEqual([expect.stringMatching(/^i-nope: /), 'stopped: i-0ff9a000000000001']);
    expect(await json('stop', '--all', '--output', 'json')).toEqual({ stopped: [] });
  });

  it('run and deploy local: a refusal before any VM is the error object', async () => {
    expect((await jsonError('run', '--output', 'json', 'no-such-image')).code).toBe(
      'ImageNotFound',
    );
    expect((await jsonError('run', '--output', 'json', '--cpus', '4096', 'dev')).code).toBe(
      'TooManyCpus',
    );
    expect(
      (await jsonError('deploy', 'local', '--output', 'json', '--group', 'g', 'no-such-image'))
        .code,
    ).toBe('ImageNotFound');
  });
});
