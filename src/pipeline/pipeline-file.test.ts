import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { Catalog } from '../catalog/index.js';
import { MemoryUi } from '../core/events.js';
import { Secrets } from '../core/secrets.js';
import { registry } from '../plugins.js';
import { commandSpecs, loadPipeline, selectEnvironments } from './pipeline-file.js';
import { runPipeline } from './run-pipeline.js';

let dir: string;

function write(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

const good = {
  unit_tests: 'true',
  build: { template: 'build.json' },
  release: { template: 'release.json' },
  environments: {
    dev: { var_file: 'env/dev.json' },
    prod: { var_file: 'env/prod.json', vars: { extra: 'x' } },
  },
  smoke_test: { port: '{{user `http_port`}}', expect_body: 'Hello' },
  deploy: { local: { group: 'web', port: 18080 } },
};

function errorOf(fn: () => unknown): { message: string; details: string[] } {
  try {
    fn();
  } catch (err) {
    return err as { message: string; details: string[] };
  }
  throw new Error('no error');
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kiln-pipeline-'));
  mkdirSync(join(dir, 'env'));
  write('build.json', '{"builders":[{"type":"null","communicator":"none"}]}');
  write('release.json', '{"builders":[{"type":"null","communicator":"none"}]}');
  write('env/dev.json', '{"http_port":"8080"}');
  write('env/prod.json', '{"http_port":"80"}');
});

describe('loadPipeline', () => {
  it('reads a good file with defaults, environments in file order, deploy to the first', () => {
    const p = loadPipeline(write('kiln.pipeline.json', JSON.stringify(good, null, 2)));
    expect(p.config.release.image_var).toBe('source_image');
    expect(p.config.smoke_test).toMatchObject({ path: '/', expect_status: 200, timeout: '5m' });
    expect(p.config.deploy?.local).toMatchObject({ count: 1, health_path: '/healthz' });
    expect(p.environments.map((e) => e.name)).toEqual(['dev', 'prod']);
    expect(p.environments[1]!.varFiles).toEqual([join(dir, 'env/prod.json')]);
    expect(p.environments[1]!.vars).toEqual({ extra: 'x' });
    expect(p.deployEnvironment).toBe('dev');
  });

  it('lets an environment use its own release template (e.g. the chroot builder), checked to exist', () => {
    write('release-chroot.json', '{"builders":[{"type":"null","communicator":"none"}]}');
    const p = loadPipeline(
      write(
        'kiln.pipeline.json',
        JSON.stringify({
          ...good,
          environments: {
            dev: { var_file: 'env/dev.json', release_template: 'release-chroot.json' },
            prod: { var_file: 'env/prod.json' },
          },
        }),
      ),
    );
    expect(p.environments.map((e) => e.releaseTemplate)).toEqual([
      join(dir, 'release-chroot.json'),
      undefined,
    ]);
    const err = errorOf(() =>
      loadPipeline(
        write(
          'bad.pipeline.json',
          JSON.stringify({ ...good, environments: { dev: { release_template: 'nope.json' } } }),
        ),
      ),
    );
    expect(err.details.join('\n')).toMatch(
      /environments\.dev\.release_template: template .*nope\.json does not exist/,
    );
  });

  it('reports every schema problem at file:line:column with a suggestion', () => {
    const text = `{
  "build": {"template": "build.json"},
  "release": {"template": "release.json", "imagevar": "x"},
  "environments": {"dev": {"var_file": "env/dev.json", "port": 3}},
  "smoke_test": {"port": true}
}
`;
    const e = errorOf(() => loadPipeline(write('p.json', text)));
    expect(e.message).toMatch(/pipeline .*p\.json has 3 errors/);
    expect(e.details).toEqual([
      `${join(dir, 'p.json')}:3:43: release.imagevar: unknown key "imagevar"; did you mean "image_var"?`,
      `${join(dir, 'p.json')}:4:56: environments.dev.port: unknown key "port"`,
      `${join(dir, 'p.json')}:5:26: smoke_test.port: expected a port number, or a string such as "{{user \`http_port\`}}"`,
    ]);
  });

  it('points at a syntax error like a template', () => {
    const e = errorOf(() => loadPipeline(write('p.json', '{\n  "build": {,}\n}\n')));
    expect(e.message).toBe(`${join(dir, 'p.json')}:2:13: invalid pipeline JSON: expected a value`);
    expect(e.details.at(-1)).toBe('  |             ^');
  });

  it('checks files, deploy target and environment names after the schema', () => {
    const bad = {
      ...good,
      build: { template: 'missing.json' },
      environments: { 'bad name': { var_file: 'env/none.json' } },
      deploy: {
        environment: 'qa',
        local: { group: 'web', port: 1 },
        aws: { asg: 'a', region: 'r' },
      },
    };
    const e = errorOf(() => loadPipeline(write('p.json', JSON.stringify(bad, null, 2))));
    const text = e.details.join('\n');
    expect(text).toMatch(/build\.template: template .*missing\.json does not exist/);
    expect(text).toMatch(/environments\["bad name"\]: environment name "bad name" must be/);
    expect(text).toMatch(/var_file: var-file .*none\.json does not exist/);
    expect(text).toMatch(/deploy: give exactly one deploy target/);
    expect(text).toMatch(/deploy\.environment: unknown environment "qa"; environments: bad name/);
  });

  it('a wrong type says what was expected', () => {
    const e = errorOf(() =>
      loadPipeline(write('p.json', JSON.stringify({ ...good, environments: { dev: 'dev.json' } }))),
    );
    expect(e.details.join('\n')).toMatch(/environments\.dev: expected an object, found string/);
  });

  it('takes command steps with their inputs and variables, and normalises them', () => {
    const p = loadPipeline(
      write(
        'kiln.pipeline.json',
        JSON.stringify({
          ...good,
          unit_tests: { command: 'npm test', inputs: ['src', '!**/*.md'], env: ['CI'] },
          integration_tests: ['a', 'b'],
          package: { command: 'make', artifact: 'dist/x.deb', inputs: ['src'] },
        }),
      ),
    );
    expect(commandSpecs(p.config)).toEqual([
      { name: 'unit_tests', commands: ['npm test'], inputs: ['src', '!**/*.md'], env: ['CI'] },
      { name: 'integration_tests', commands: ['a', 'b'], env: [] },
      { name: 'package', commands: ['make'], inputs: ['src'], env: [], artifact: 'dist/x.deb' },
    ]);
  });

  it('refuses a variable name that is not one, and an unknown key of a command step', () => {
    const e = errorOf(() =>
      loadPipeline(
        write(
          'p.json',
          JSON.stringify({
            ...good,
            package: { command: 'make', artifact: 'x', env: ['NOT-A-NAME'] },
          }),
        ),
      ),
    );
    expect(e.details.join('\n')).toMatch(/package\.env\[0\]: not an environment variable name/);
    const u = errorOf(() =>
      loadPipeline(
        write('p.json', JSON.stringify({ ...good, unit_tests: { command: 'x', input: ['src'] } })),
      ),
    );
    expect(u.details.join('\n')).toMatch(/unit_tests/);
  });

  it('selects environments and names unknown ones', () => {
    const p = loadPipeline(write('kiln.pipeline.json', JSON.stringify(good)));
    expect(selectEnvironments(p, ['prod']).map((e) => e.name)).toEqual(['prod']);
    expect(selectEnvironments(p, []).length).toBe(2);
    expect(() => selectEnvironments(p, ['prod', 'qa'])).toThrow(/unknown environment: qa/);
  });
});

describe('runPipeline', () => {
  it('stops at the first failing step, names it, streams its output with its name, and builds nothing', async () => {
    const p = loadPipeline(
      write(
        'kiln.pipeline.json',
        JSON.stringify({
          ...good,
          unit_tests: ['echo first', 'echo "broken test" >&2; exit 3', 'echo never'],
        }),
      ),
    );
    const ui = new MemoryUi(new Secrets());
    const result = await runPipeline({
      pipeline: p,
      ui,
      registry,
      catalog: Catalog.openReadOnly(join(dir, 'home')),
    });
    expect(result.ok).toBe(false);
    expect(result.failure).toMatchObject({ step: 'unit_tests' });
    expect(result.failure!.message).toMatch(/exited with status 3/);
    expect(result.rows.map((r) => [r.step, r.outcome])).toEqual([['unit_tests', 'failed']]);
    const lines = ui.events.flatMap((e) => (e.type === 'ui' ? [`${e.build}: ${e.text}`] : []));
    expect(lines).toContain('unit_tests: first');
    expect(lines).toContain('unit_tests: broken test');
    expect(lines.join('\n')).not.toMatch(/never/);
  });

  it('fails the package step when the command does not make the artifact', async () => {
    const p = loadPipeline(
      write(
        'kiln.pipeline.json',
        JSON.stringify({ ...good, package: { command: 'true', artifact: 'dist/app.deb' } }),
      ),
    );
    const result = await runPipeline({
      pipeline: p,
      ui: new MemoryUi(new Secrets()),
      registry,
      catalog: Catalog.openReadOnly(join(dir, 'home')),
    });
    expect(result.failure).toMatchObject({ step: 'package' });
    expect(result.failure!.message).toMatch(/did not produce .*dist\/app\.deb/);
  });
});

describe('runPipeline releases (file builder, shell-local: no VM)', () => {
  it('a release that fails stops its sibling, which cleans up and is reported cancelled', async () => {
    const tpl = (target: string) =>
      JSON.stringify({
        variables: { source_image: '', env: '' },
        builders: [{ type: 'file', content: 'x', target }],
        provisioners: [
          {
            type: 'shell-local',
            inline: [
              'if [ "{{user `env`}}" = dev ]; then sleep 1; echo dev broke; exit 4; fi',
              'sleep 60',
            ],
          },
        ],
      });
    write(
      'build.json',
      JSON.stringify({
        builders: [{ type: 'file', content: 'x', target: join(dir, 'build.out') }],
      }),
    );
    write('release.json', tpl(join(dir, 'release-{{user `env`}}.out')));
    write('env/dev.json', JSON.stringify({ env: 'dev' }));
    write('env/prod.json', JSON.stringify({ env: 'prod' }));
    const p = loadPipeline(
      write(
        'kiln.pipeline.json',
        JSON.stringify({
          build: { template: 'build.json' },
          release: { template: 'release.json' },
          environments: {
            dev: { var_file: 'env/dev.json' },
            prod: { var_file: 'env/prod.json' },
          },
        }),
      ),
    );
    const t0 = Date.now();
    using catalog = Catalog.open(join(dir, 'home'));
    const result = await runPipeline({
      pipeline: p,
      ui: new MemoryUi(new Secrets()),
      registry,
      catalog,
      parallel: 2,
    });
    expect(Date.now() - t0).toBeLessThan(30_000);
    expect(result.failure).toMatchObject({ step: 'release', environment: 'dev' });
    const rows = result.rows.map((r) => [r.step, r.environment, r.outcome]);
    expect(rows).toContainEqual(['release', 'dev', 'failed']);
    expect(rows).toContainEqual(['release', 'prod', 'cancelled']);
    expect(result.rows.find((r) => r.environment === 'prod')!.message).toMatch(
      /stopped: release dev failed/,
    );
    // The cancelled release's file builder removed its half-made target.
    expect(existsSync(join(dir, 'release-prod.out'))).toBe(false);
    expect(existsSync(join(dir, 'build.out'))).toBe(true);
  }, 40_000);
});
