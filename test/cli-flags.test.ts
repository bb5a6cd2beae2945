/**
 * One flag vocabulary (issue 16, items 5 and 7): `--output json` on every command that prints
 * data (`--json` kept as a hidden alias), `-q` wherever a list is printed, `--machine-readable`
 * only where it is honoured, a JSON error object on stdout with `--output json`, did-you-mean
 * for mistyped commands and flags, and `kiln inspect` taking `-var`/`-var-file` as Packer's.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/index.js';
import { kiln as run } from './helpers/kiln.js';
import { type SmallCatalog, smallCatalog } from './helpers/small-catalog.js';

let c: SmallCatalog;
const kiln = (...args: string[]) => run(args, { home: c.home, cwd: c.root });

beforeEach(() => {
  c = smallCatalog();
});
afterEach(() => rmSync(c.root, { recursive: true, force: true }));

describe('--output json', () => {
  it('is taken by every command that prints data, and --json still works where it did', async () => {
    for (const args of [
      ['images', 'ls'],
      ['images', 'tree'],
      ['ps', '-a'],
    ]) {
      const a = await kiln(...args, '--output', 'json');
      expect(a.code, `${args.join(' ')}: ${a.stderr}`).toBe(0);
      const b = await kiln(...args, '--json');
      expect(b.code, b.stderr).toBe(0);
      expect(JSON.parse(a.stdout)).toEqual(JSON.parse(b.stdout));
    }
    const ls = JSON.parse((await kiln('images', 'ls', '--output=json')).stdout);
    expect(ls.map((i: { id: string }) => i.id)).toEqual([c.dev.id, c.build.id, c.base.id]);
    const inspect = await kiln('images', 'inspect', '--output', 'json', 'dev');
    expect(JSON.parse(inspect.stdout)[0].id).toBe(c.dev.id);
    expect(JSON.parse((await kiln('version', '--output', 'json')).stdout)).toEqual({
      version: '0.1.0',
    });
    // --json is an alias, not a second way shown in help.
    expect((await kiln('images', 'ls', '--help')).stdout).not.toContain('--json');
    const bad = await kiln('images', 'ls', '--output', 'yaml');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("argument 'yaml' is invalid. Allowed choices are json.");
  });

  it('prints a failure as one JSON error object on stdout', async () => {
    const miss = await kiln('images', 'inspect', 'nope', '--output', 'json');
    expect(miss.code).toBe(1);
    expect(JSON.parse(miss.stdout)).toMatchObject({
      type: 'error',
      error: { code: 'ImageNotFound', source: 'user', message: 'no image matches "nope"' },
    });
    expect(miss.stderr).toContain('no image matches "nope"');

    const template = await kiln('build', '--output', 'json', 'missing.json');
    expect(template.code).toBe(1);
    const err = JSON.parse(template.stdout);
    expect(err.type).toBe('error');
    expect(err.error.message).toContain('missing.json');

    const flag = await kiln('images', 'ls', '--output', 'json', '--quite');
    expect(flag.code).toBe(1);
    expect(JSON.parse(flag.stdout)).toMatchObject({
      type: 'error',
      error: {
        code: 'commander.unknownOption',
        message: "unknown option '--quite' (Did you mean --quiet?)",
      },
    });
    // Without --output json, stdout stays empty on an error.
    expect((await kiln('images', 'inspect', 'nope')).stdout).toBe('');
  });
});

describe('-q', () => {
  it('prints only ids from images ls and ps', async () => {
    expect((await kiln('images', 'ls', '-q')).stdout).toBe(
      `${c.dev.id}\n${c.build.id}\n${c.base.id}\n`,
    );
    {
      using catalog = Catalog.open(c.home);
      catalog.instances.add({ id: 'i-0ff9a000000000001', imageId: c.dev.id, backend: 'local' });
      catalog.instances.update('i-0ff9a000000000001', { state: 'stopped' });
    }
    const ps = await kiln('ps', '-a', '-q');
    expect(ps.code, ps.stderr).toBe(0);
    expect(ps.stdout).toBe('i-0ff9a000000000001\n');
    expect((await kiln('ps', '-q')).stdout).toBe('');
  });
});

describe('--machine-readable', () => {
  it('is honoured where offered, anywhere on the line, and refused where it is not', async () => {
    for (const args of [
      ['-machine-readable', 'version'],
      ['version', '-machine-readable'],
    ]) {
      const r = await kiln(...args);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^\d+,,version,0\.1\.0$/m);
    }
    for (const args of [
      ['images', 'ls', '--machine-readable'],
      ['-machine-readable', 'ps'],
    ]) {
      const r = await kiln(...args);
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr).toContain("unknown option '--machine-readable'");
    }
    expect((await kiln('--help')).stdout).not.toContain('--machine-readable');
    expect((await kiln('build', '--help')).stdout).toContain('--machine-readable');
  });
});

describe('mistyped commands and flags', () => {
  it('say unknown command with a did-you-mean, not "too many arguments"', async () => {
    const lss = await kiln('images', 'lss');
    expect(lss.code).toBe(1);
    expect(lss.stderr).toContain("unknown command 'lss'");
    expect(lss.stderr).toContain('Did you mean ls?');
    expect(lss.stderr).not.toContain('too many arguments');
    // The default subcommand still runs with no subcommand at all, and with its flags.
    expect((await kiln('images')).stdout).toMatch(/^ID\s+NAME/);
    expect((await kiln('images', '-q')).stdout.split('\n')[0]).toBe(c.dev.id);
    const top = await kiln('imgaes');
    expect(top.stderr).toContain('Did you mean images?');
    const flag = await kiln('ps', '--al');
    expect(flag.stderr).toContain('Did you mean --all?');
  });

  it('kiln inspect IMAGE points to kiln images inspect', async () => {
    const r = await kiln('inspect', 'debian-12');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cannot read template debian-12');
    expect(r.stderr).toContain('kiln images inspect debian-12');
  });
});

describe('kiln inspect', () => {
  it('takes -var and -var-file as packer inspect does', async () => {
    const tpl = join(c.root, 't.json');
    writeFileSync(
      tpl,
      JSON.stringify({
        variables: { greeting: 'hi' },
        builders: [{ type: 'file', target: 'out.txt', content: '{{user `greeting`}}' }],
      }),
    );
    const vars = join(c.root, 'vars.json');
    writeFileSync(vars, JSON.stringify({ greeting: 'hello' }));
    const plain = await kiln('inspect', tpl);
    expect(plain.code, plain.stderr).toBe(0);
    const withVars = await kiln('inspect', '-var', 'greeting=yo', '-var-file', vars, tpl);
    expect(withVars.code, withVars.stderr).toBe(0);
    // Packer 1.6.6 shows a JSON template's defaults whatever -var says.
    expect(withVars.stdout).toBe(plain.stdout);
    expect(plain.stdout).toContain('greeting = hi');
    const badFile = await kiln('inspect', '-var-file', join(c.root, 'nope.json'), tpl);
    expect(badFile.code).toBe(1);
    expect(badFile.stderr).toContain('cannot read the variable file');
    const badVar = await kiln('inspect', '-var', 'greeting', tpl);
    expect(badVar.code).toBe(1);
    expect(badVar.stderr).toContain("No '=' value in arg: greeting");

    const hcl = join(c.root, 't.pkr.hcl');
    writeFileSync(
      hcl,
      'variable "greeting" {\n  default = "hi"\n}\nsource "file" "a" {\n  target = "out.txt"\n  content = var.greeting\n}\nbuild {\n  sources = ["source.file.a"]\n}\n',
    );
    const h = await kiln('inspect', '-var', 'greeting=yo', hcl);
    expect(h.code, h.stderr).toBe(0);
    expect(h.stdout).toContain('var.greeting: "yo"');
  });
});

describe('kiln --help', () => {
  it('lists every command under its workflow, in the order a newcomer meets them', async () => {
    const help = (await kiln('--help')).stdout;
    const headings = help.split('\n').filter((l) => /^\S.*:$/.test(l));
    expect(headings).toEqual([
      'Options:',
      'Make images:',
      'Run instances:',
      'Ship:',
      'Maintain:',
      'Commands:',
    ]);
    const section = (h: string) => {
      const rest = help.slice(help.indexOf(`\n${h}\n`) + h.length + 2);
      return rest
        .slice(0, rest.search(/\n\S|$/))
        .split('\n')
        .filter((l) => /^ {2}\S/.test(l)) // a description's continuation lines are indented further
        .map((l) => l.trim().split(/\s+/)[0]);
    };
    expect(section('Make images:')).toEqual([
      'base',
      'build',
      'validate',
      'inspect',
      'hcl2_upgrade',
    ]);
    expect(section('Run instances:')).toEqual(['run', 'ps', 'ssh', 'logs', 'stop']);
    expect(section('Ship:')).toEqual(['pipeline', 'deploy', 'push', 'pull']);
    expect(section('Maintain:')).toEqual(['images', 'gc', 'doctor', 'completion', 'version']);
    expect(section('Commands:')).toEqual(['help']);
    expect(help.replace(/\s+/g, ' ')).toContain(
      'a group of local instances, or an AWS Auto Scaling group',
    );
  });
});
