import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it, onTestFinished } from 'vitest';
import { z } from 'zod';
import { Catalog } from '../../catalog/index.js';
import type {
  BuilderPlugin,
  DataSourcePlugin,
  PostProcessorPlugin,
  ProvisionerPlugin,
  Registry,
} from '../../core/plugin.js';
import { UserError } from '../../lib/errors.js';
import { registry as kilnRegistry } from '../../plugins.js';
import { loadTemplate } from '../index.js';

// Packer's own HCL2 fixtures (hashicorp/packer v1.9.4, hcl2template/testdata, MPL-2.0),
// LOADED as Packer's hcl2template tests load them (types.*_test.go: Parse, Initialize,
// GetBuilds), against the plugins Packer's tests register (common_test.go getBasicParser):
// mocks of amazon-ebs and virtualbox-iso, shell and file, amazon-import and manifest, the
// amazon-ami data source, all with MockConfig's fields (internal/mock.go); the real null
// builder and null data source. A case Packer's test expects to load (parseWantDiagHasErrors
// false) must load; a case it expects to fail must fail with one located error.
const root = path.join(path.dirname(fileURLToPath(import.meta.url)), 'testdata', 'packer-v1.9.4');

const any = z.unknown().optional();
const tag = z.strictObject({ key: z.string().optional(), value: z.string().optional() });
const nestedShape = {
  string: any,
  int: any,
  int64: any,
  bool: any,
  trilean: any,
  duration: any,
  map_string_string: z.record(z.string(), z.string()).optional(),
  slice_string: z.array(z.string()).optional(),
  slice_slice_string: z.array(z.array(z.string())).optional(),
  named_map_string_string: z.record(z.string(), z.string()).optional(),
  named_string: any,
  tag: z.array(tag).optional(),
  data_source: any,
};
const nested = z.strictObject(nestedShape);
/** Packer's MockConfig: NestedMockConfig squashed, plus `nested` and `nested_slice`. */
const mockConfig = z.strictObject({
  ...nestedShape,
  not_squashed: any,
  nested: nested.optional(),
  nested_slice: z.array(nested).optional(),
});
type MockConfig = z.infer<typeof mockConfig>;

// Packer's mocks never interpolate their strings: `upper(build.ID)` stays as written there,
// so `{{ BUILD \`ID\` }}` is no error. In kiln that is what a late key means.
const lateKeys = ['not_squashed'];
const mockBuilder = (type: string): BuilderPlugin<MockConfig> => ({
  type,
  builderId: `packer.mock.${type}`,
  schema: mockConfig,
  lateKeys,
  run: async () => undefined,
});
const mockProvisioner = (type: string): ProvisionerPlugin<MockConfig> => ({
  type,
  schema: mockConfig,
  lateKeys,
  provision: async () => {},
});
const mockPostProcessor = (type: string): PostProcessorPlugin<MockConfig> => ({
  type,
  schema: mockConfig,
  lateKeys,
  postProcess: async (_c, artifact) => ({ artifact, keep: true, forceOverride: false }),
});
// MockDatasource.Execute returns its configuration as its output
const mockDataSource: DataSourcePlugin<MockConfig> = {
  type: 'amazon-ami',
  schema: mockConfig,
  fetch: async (config) => ({ ...config }),
};

const registry = {
  builders: {
    'amazon-ebs': mockBuilder('amazon-ebs'),
    'virtualbox-iso': mockBuilder('virtualbox-iso'),
    null: kilnRegistry.builders.null,
  },
  provisioners: { shell: mockProvisioner('shell'), file: mockProvisioner('file') },
  postProcessors: {
    'amazon-import': mockPostProcessor('amazon-import'),
    manifest: mockPostProcessor('manifest'),
  },
  dataSources: { 'amazon-ami': mockDataSource },
} as unknown as Registry;

/** One case of Packer's tests: its name there, the fixture, and whether Packer loads it. */
interface FixtureCase {
  test: string;
  path: string;
  varFiles?: string[];
  loads: boolean;
  /**
   * It writes `upper(build.ID)`, i.e. `{{ BUILD \`ID\` }}`: Packer's mocks never interpolate,
   * every real plugin would reject it, and so does kiln's loader (it checks the `{{ }}` of every
   * plugin string before a build starts). Loaded with `build.ID` in its place; the original must
   * fail on those strings alone.
   */
  uninterpolatedMocks?: boolean;
  /** Packer's test only parses it (TestParser_no_init: the `packer` block, no plugins). */
  parseOnly?: boolean;
}

// From hcl2template/types.{build,datasource,packer_config,source,variables}_test.go at v1.9.4.
const CASES: FixtureCase[] = [
  { test: 'basic build no src', path: 'build/basic.pkr.hcl', loads: false },
  { test: 'untyped provisioner', path: 'build/provisioner_untyped.pkr.hcl', loads: false },
  { test: 'nonexistent provisioner', path: 'build/provisioner_nonexistent.pkr.hcl', loads: false },
  {
    test: 'two error-cleanup-provisioner',
    path: 'build/two-error-cleanup-provisioner.pkr.hcl',
    loads: false,
  },
  { test: 'untyped post-processor', path: 'build/post-processor_untyped.pkr.hcl', loads: false },
  {
    test: 'nonexistent post-processor',
    path: 'build/post-processor_nonexistent.pkr.hcl',
    loads: false,
  },
  { test: 'invalid source', path: 'build/invalid_source_reference.pkr.hcl', loads: false },
  { test: 'named build', path: 'build/named.pkr.hcl', loads: false },
  {
    test: 'post-processor with only and except',
    path: 'build/post-processor_onlyexcept.pkr.hcl',
    loads: true,
  },
  {
    test: 'provisioner with only and except',
    path: 'build/provisioner_onlyexcept.pkr.hcl',
    loads: true,
  },
  {
    test: 'provisioner with packer_version interpolation',
    path: 'build/provisioner_packer_version_interpolation.pkr.hcl',
    loads: true,
  },
  {
    test: 'variable interpolation for build name and description',
    path: 'build/variables.pkr.hcl',
    loads: true,
  },
  {
    test: 'invalid variable for build name',
    path: 'build/invalid_build_name_variable.pkr.hcl',
    loads: false,
  },
  {
    test: 'use build.name in post-processor block',
    path: 'build/post-processor_build_name_interpolation.pkr.hcl',
    loads: true,
  },
  {
    test: 'use build.name in provisioner block',
    path: 'build/provisioner_build_name_interpolation.pkr.hcl',
    loads: true,
  },
  // no test of Packer's loads these two at v1.9.4; valid meta-arguments, so they must load
  {
    test: '(untested) pause_before and max_retries',
    path: 'build/provisioner_paused_before_retry.pkr.hcl',
    loads: true,
  },
  { test: '(untested) timeout', path: 'build/provisioner_timeout.pkr.hcl', loads: true },
  { test: 'two basic datasources', path: 'datasources/basic.pkr.hcl', loads: true },
  { test: 'recursive datasources', path: 'datasources/recursive.pkr.hcl', loads: true },
  { test: 'untyped datasource', path: 'datasources/untyped.pkr.hcl', loads: false },
  { test: 'unnamed source', path: 'datasources/unnamed.pkr.hcl', loads: false },
  { test: 'nonexistent source', path: 'datasources/nonexistent.pkr.hcl', loads: false },
  { test: 'duplicate source', path: 'datasources/duplicate.pkr.hcl', loads: false },
  {
    test: 'cyclic dependency between data sources',
    path: 'datasources/dependency_cycle.pkr.hcl',
    loads: false,
  },
  { test: 'working build', path: 'complete', loads: true, uninterpolatedMocks: true },
  { test: 'working build with imports', path: 'init/imports', loads: true, parseOnly: true },
  {
    test: 'duplicate required plugin accessor fails',
    path: 'init/duplicate_required_plugins',
    loads: false,
    parseOnly: true,
  },
  {
    test: 'invalid_inexplicit_source.pkr.hcl',
    path: 'init/invalid_inexplicit_source.pkr.hcl',
    loads: false,
    parseOnly: true,
  },
  {
    test: 'invalid_short_source.pkr.hcl',
    path: 'init/invalid_short_source.pkr.hcl',
    loads: false,
    parseOnly: true,
  },
  {
    test: 'invalid_inexplicit_source_2.pkr.hcl',
    path: 'init/invalid_inexplicit_source_2.pkr.hcl',
    loads: false,
    parseOnly: true,
  },
  { test: 'two basic sources', path: 'sources/basic.pkr.hcl', loads: true },
  { test: 'untyped source', path: 'sources/untyped.pkr.hcl', loads: false },
  { test: 'unnamed source', path: 'sources/unnamed.pkr.hcl', loads: false },
  {
    test: 'unused source with unknown type fails',
    path: 'sources/nonexistent.pkr.hcl',
    loads: false,
  },
  {
    test: 'used source with unknown type fails',
    path: 'sources/nonexistent_used.pkr.hcl',
    loads: false,
  },
  { test: 'duplicate source', path: 'sources/duplicate.pkr.hcl', loads: false },
  { test: 'basic variables', path: 'variables/basic.pkr.hcl', loads: true },
  { test: 'duplicate variable', path: 'variables/duplicate_variable.pkr.hcl', loads: false },
  {
    test: 'duplicate variable in variables',
    path: 'variables/duplicate_variables.pkr.hcl',
    loads: false,
  },
  { test: 'duplicate local block', path: 'variables/duplicate_locals', loads: false },
  { test: 'invalid default type', path: 'variables/invalid_default.pkr.hcl', loads: false },
  { test: 'unknown key', path: 'variables/unknown_key.pkr.hcl', loads: false },
  {
    test: 'unset used variable',
    path: 'variables/unset_used_string_variable.pkr.hcl',
    loads: false,
  },
  {
    test: 'unset unused variable',
    path: 'variables/unset_unused_string_variable.pkr.hcl',
    loads: false,
  },
  {
    test: 'locals within another locals usage in different files',
    path: 'variables/complicated',
    loads: true,
  },
  { test: 'recursive locals', path: 'variables/recursive_locals.pkr.hcl', loads: false },
  {
    test: 'set variable from var-file',
    path: 'variables/foo-string.variable.pkr.hcl',
    varFiles: ['variables/set-foo-too-wee.hcl'],
    loads: true,
  },
  {
    test: 'unknown variable from var-file',
    path: 'variables/empty.pkr.hcl',
    varFiles: ['variables/set-foo-too-wee.hcl'],
    loads: true,
  },
  {
    test: 'provisioner variable decoding',
    path: 'variables/provisioner_variable_decoding.pkr.hcl',
    loads: true,
  },
  { test: 'valid validation block', path: 'variables/validation/valid.pkr.hcl', loads: true },
  {
    test: 'valid validation block - invalid default',
    path: 'variables/validation/invalid_default.pkr.hcl',
    loads: false,
  },
];

/**
 * Fixtures no test of Packer's hcl2template package loads, or that need what kiln does not
 * have, with the reason: not loaded here (they are parsed by packer-fixtures.test.ts).
 */
const OUT_OF_SCOPE: Record<string, string> = {
  'hcp_par/':
    'HCP Packer registry (`hcp_packer_registry` blocks, types.build.hcp_packer_registry_test.go): a HashiCorp cloud service kiln does not talk to',
  'communicator/basic.pkr.hcl': 'a top-level `communicator` block: no Packer test loads it',
  'build.pkr.hcl/basic.pkr.hcl': 'no hcl2template test loads it (a folder named like a file)',
  'unknown/block_type.pkr.hcl': 'no hcl2template test loads it',
  'format/': '`packer fmt` fixtures (formatter_test.go): kiln has no fmt command',
  'variables/validation/valid_map/': 'no hcl2template test loads it at v1.9.4',
  'datasources/not-allowed.pkr.hcl':
    'no test loads it at v1.9.4: named for a rule Packer dropped (data sources may use each other, see recursive.pkr.hcl)',
};

const catalog = Catalog.openReadOnly('/nonexistent');

function hclFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return hclFiles(p);
    return e.name.endsWith('.hcl') ? [path.relative(root, p)] : [];
  });
}

/** The error's message and each of its located problems. */
const described = (e: UserError) => [e.message, ...(e.details ?? [])].join('\n');

describe("Packer's hcl2template fixtures load as Packer's tests expect", () => {
  const loads = CASES.filter((c) => c.loads).length;
  it(`${CASES.length} cases from Packer's tests: ${loads} load, ${CASES.length - loads} fail`, () => {
    expect(CASES.length).toBe(51);
  });

  it('cover every fixture file, or say why one is out of scope', () => {
    const files = hclFiles(root);
    const covered = (f: string) =>
      CASES.some(
        (c) => c.path === f || f.startsWith(`${c.path}/`) || (c.varFiles ?? []).includes(f),
      );
    const out = files.filter((f) => Object.keys(OUT_OF_SCOPE).some((k) => f.startsWith(k)));
    expect(files.filter((f) => !covered(f) && !out.includes(f))).toEqual([]);
    console.log(
      `Packer fixtures: ${files.length} files; ${files.length - out.length} loaded by ${CASES.length} cases, ${out.length} out of scope`,
    );
  });

  for (const c of CASES) {
    it(`${c.loads ? 'loads' : 'rejects'} ${c.path} (${c.test})`, async () => {
      let at = path.join(root, c.path);
      if (c.uninterpolatedMocks) {
        const failed = await loadTemplate(at, { registry, catalog, env: {} }).then(
          () => [],
          (e: UserError) => e.details,
        );
        expect(failed.length).toBeGreaterThan(0);
        for (const d of failed) expect(d).toContain('function "BUILD" not defined');
        at = mkdtempSync(path.join(tmpdir(), 'kiln-fixture-'));
        onTestFinished(() => rmSync(at, { recursive: true, force: true }));
        cpSync(path.join(root, c.path), at, { recursive: true });
        for (const f of readdirSync(at)) {
          const file = path.join(at, f);
          writeFileSync(file, readFileSync(file, 'utf8').replaceAll('upper(build.ID)', 'build.ID'));
        }
      }
      const load = loadTemplate(at, {
        registry,
        catalog,
        env: {},
        syntaxOnly: c.parseOnly === true,
        varFiles: (c.varFiles ?? []).map((f) => path.join(root, f)),
      });
      if (c.loads) {
        const t = await load.catch((e: unknown) => {
          throw new Error(e instanceof UserError ? described(e) : String(e));
        });
        if (!c.parseOnly)
          expect(t.builds.length + Object.keys(t.variables).length).toBeGreaterThan(0);
        return;
      }
      const err = await load.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, 'Packer rejects it; kiln loaded it').toBeInstanceOf(UserError);
      const message = described(err as UserError);
      const dir = c.path.endsWith('.hcl') ? path.dirname(c.path) : c.path;
      // located: a fixture file of the case, with line and column
      expect(message).toMatch(
        new RegExp(`${dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/[^\\s:]+\\.hcl:\\d+:\\d+`),
      );
    });
  }
});
