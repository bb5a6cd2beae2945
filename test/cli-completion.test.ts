/**
 * `kiln completion bash|zsh|fish` (issue 16, item 9): the scripts are generated from the
 * commands themselves and driven by the real shells — bash through its completion function
 * with COMP_WORDS/COMP_CWORD as readline sets them, fish through `complete -C` (what it
 * shows on Tab), zsh through its `_kiln` function with the completion system's output
 * builtins (`compadd`, `_describe`, `_files`) recording what they are given. Image and
 * instance ids come from the catalog.
 */
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Catalog } from '../src/catalog/index.js';
import { KILN, run, kiln as runKiln } from './helpers/kiln.js';
import { type SmallCatalog, smallCatalog } from './helpers/small-catalog.js';

let c: SmallCatalog;
let scripts: Record<'bash' | 'zsh' | 'fish', string>;
let env: Record<string, string>;
const INSTANCE = 'i-0ff9a000000000001';

beforeAll(async () => {
  c = smallCatalog();
  {
    using catalog = Catalog.open(c.home);
    catalog.instances.add({ id: INSTANCE, imageId: c.dev.id, backend: 'local' });
    catalog.instances.update(INSTANCE, { state: 'stopped' });
  }
  // `kiln` on the PATH, as `npm link` puts it there.
  const bin = join(c.root, 'bin');
  mkdirSync(bin);
  symlinkSync(KILN, join(bin, 'kiln'));
  env = { PATH: `${bin}:${process.env.PATH}`, KILN_HOME: c.home };
  writeFileSync(join(c.root, 'web.json'), '{}');
  mkdirSync(join(c.root, 'envs'));
  scripts = { bash: '', zsh: '', fish: '' };
  for (const shell of ['bash', 'zsh', 'fish'] as const) {
    const r = await runKiln(['completion', shell], { home: c.home });
    expect(r.code, r.stderr).toBe(0);
    scripts[shell] = join(c.root, `kiln.${shell}`);
    writeFileSync(scripts[shell], r.stdout);
  }
});
afterAll(() => rmSync(c.root, { recursive: true, force: true }));

/** What bash offers for the words typed so far (the last one is under the cursor). */
async function bash(...words: string[]): Promise<string[]> {
  const line = words.map((w) => `'${w}'`).join(' ');
  const script = `source ${scripts.bash}
COMP_WORDS=(kiln ${line}); COMP_CWORD=${words.length}; COMPREPLY=()
_kiln
printf '%s\\n' "\${COMPREPLY[@]}"`;
  const r = await run('bash', ['--norc', '-c', script], { cwd: c.root, env });
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).toBe('');
  return r.stdout.split('\n').filter(Boolean).sort();
}

/** What fish offers on Tab after `line` (names only). */
async function fish(line: string): Promise<string[]> {
  const r = await run(
    'fish',
    ['--no-config', '-c', `source ${scripts.fish}; complete -C '${line}'`],
    {
      cwd: c.root,
      env,
    },
  );
  expect(r.code, r.stderr).toBe(0);
  return r.stdout
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('\t')[0]!)
    .sort();
}

/** What zsh's `_kiln` hands to the completion system for the words typed so far. */
async function zsh(...words: string[]): Promise<string> {
  const script = `compdef() { :; }
source ${scripts.zsh}
_describe() { local -a items; items=("\${(@P)4}"); print -r -- "$2: \${items[@]%%:*}"; }
compadd() { [[ $1 == -- ]] && shift; print -r -- "values: $*"; }
_files() { print -r -- files; }
words=(kiln ${words.map((w) => `'${w}'`).join(' ')}); CURRENT=\${#words}
_kiln`;
  const r = await run('zsh', ['-f', '-c', script], { cwd: c.root, env });
  expect(r.stderr).toBe('');
  return r.stdout.trim();
}

const sortedIds = () => [c.base.id, c.build.id, c.dev.id].sort();

describe('kiln completion bash', () => {
  it('completes commands, subcommands (aliases too) and flags from the commander programme', async () => {
    expect(await bash('')).toEqual(
      expect.arrayContaining(['build', 'completion', 'images', 'run', 'stop', 'validate']),
    );
    expect(await bash('im')).toEqual(['images']);
    expect(await bash('images', 'l')).toEqual(['list', 'ls']);
    expect(await bash('images', 'ls', '--')).toEqual(['--filter', '--help', '--output', '--quiet']);
    // `kiln images` runs `images ls`: its flags are offered there too.
    expect(await bash('images', '-q')).toEqual(['-q']);
    expect(await bash('images', 'list', '--q')).toEqual(['--quiet']);
    expect(await bash('gc', 'aws', '--dr')).toEqual(['--dry-run']);
    expect(await bash('completion', '')).toEqual(['bash', 'fish', 'zsh']);
  });

  it('completes flag values: choices, and file names for templates and -var-file (Packer’s single dash too)', async () => {
    expect(await bash('build', '--output', '')).toEqual(['json']);
    expect(await bash('build', '--output', '=', '')).toEqual(['json']);
    expect(await bash('build', '-var-file', 'e')).toEqual(['envs']);
    expect(await bash('build', '--var-file', 'w')).toEqual(['web.json']);
    expect(await bash('validate', '-syntax-only', 'w')).toEqual(['web.json']);
    // -var takes a value: the word after it is not the template (bash splits a=b at the =).
    expect(await bash('build', '-var', 'a', '=', 'b', 'we')).toEqual(['web.json']);
    expect(await bash('build', '-var', 'a', '=', '')).toEqual([]);
  });

  it('completes image ids and instance ids from the catalog', async () => {
    expect(await bash('run', '')).toEqual(sortedIds());
    expect(await bash('run', 'img-7')).toEqual([c.dev.id]);
    expect(await bash('images', 'rm', c.dev.id, '')).toEqual(sortedIds());
    expect(await bash('images', 'tag', '')).toEqual(sortedIds());
    // A tag is not an image: nothing is offered for the second argument.
    expect(await bash('images', 'tag', c.dev.id, '')).toEqual([]);
    expect(await bash('stop', '')).toEqual([INSTANCE]);
    expect(await bash('logs', '-n', '5', '')).toEqual([INSTANCE]);
  });
});

describe('kiln completion fish', () => {
  it('completes commands, flags, choices, files and catalog ids', async () => {
    expect(await fish('kiln im')).toEqual(['images']);
    expect(await fish('kiln images l')).toEqual(['list', 'ls']);
    expect(await fish('kiln images ls --')).toEqual(['--filter', '--help', '--output', '--quiet']);
    expect(await fish('kiln build --output ')).toEqual(['json']);
    expect(await fish('kiln build -var-file w')).toEqual(['web.json']);
    expect(await fish('kiln run ')).toEqual(sortedIds());
    expect(await fish('kiln stop ')).toEqual([INSTANCE]);
    expect(await fish('kiln completion ')).toEqual(['bash', 'fish', 'zsh']);
  });
});

describe('kiln completion zsh', () => {
  it('is valid zsh and hands commands, flags, choices, files and ids to the completion system', async () => {
    const syntax = await run('zsh', ['-n', scripts.zsh]);
    expect(syntax.code, syntax.stderr).toBe(0);
    expect(await zsh('im')).toMatch(/^commands: base build .*images/);
    expect(await zsh('images', 'ls', '--q')).toMatch(/^flags: --quiet -q --filter/);
    expect(await zsh('build', '--output', '')).toBe('values: json');
    expect(await zsh('build', '-var-file', '')).toBe('files');
    expect(await zsh('run', '')).toBe(`values: ${[c.dev.id, c.build.id, c.base.id].join(' ')}`);
    expect(await zsh('stop', '')).toBe(`values: ${INSTANCE}`);
  });
});
