import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  CA_FILE_ENV,
  cacheRegistryOptions,
  INSECURE_ENV,
  registryOptions,
} from './registry-flags.js';

const dir = mkdtempSync(join(tmpdir(), 'kiln-reg-flags-'));
const [a, b, c] = ['a.pem', 'b.pem', 'c.pem'].map((n) => {
  const p = join(dir, n);
  writeFileSync(p, 'pem');
  return p;
}) as [string, string, string];
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('registry connection settings', () => {
  it('a flag wins over the environment, which wins over the pipeline file', () => {
    const file = { caFile: { value: c, where: 'p.json: registry_ca_file' } };
    expect(registryOptions({ caFile: a }, { [CA_FILE_ENV]: b }, file)).toEqual({ caFile: a });
    expect(registryOptions({}, { [CA_FILE_ENV]: b }, file)).toEqual({ caFile: b });
    expect(registryOptions({}, {}, file)).toEqual({ caFile: c });
    expect(registryOptions({}, {})).toEqual({});
    expect(
      registryOptions({}, { [INSECURE_ENV]: '0' }, { insecure: { value: true, where: 'x' } }),
    ).toEqual({});
    expect(registryOptions({}, {}, { insecure: { value: true, where: 'x' } })).toEqual({
      insecure: true,
    });
    expect(registryOptions({ insecure: true }, { [INSECURE_ENV]: 'false' })).toEqual({
      insecure: true,
    });
    expect(cacheRegistryOptions({ registryInsecure: true, registryCaFile: a }, {})).toEqual({
      caFile: a,
      insecure: true,
    });
  });

  it('names the setting that is wrong', () => {
    expect(() => registryOptions({}, { [CA_FILE_ENV]: join(dir, 'nope.pem') })).toThrow(
      new RegExp(`${CA_FILE_ENV}: .*nope\\.pem does not exist`),
    );
    expect(() => cacheRegistryOptions({ registryCaFile: join(dir, 'nope.pem') }, {})).toThrow(
      /--registry-ca-file: .*does not exist/,
    );
    expect(() =>
      registryOptions(
        {},
        {},
        { caFile: { value: join(dir, 'x.pem'), where: 'p.json: registry_ca_file' } },
      ),
    ).toThrow(/p\.json: registry_ca_file: /);
    expect(() => registryOptions({}, { [INSECURE_ENV]: 'maybe' })).toThrow(
      /KILN_REGISTRY_INSECURE="maybe" is neither true nor false/,
    );
  });
});
