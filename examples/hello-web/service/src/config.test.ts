import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_PORT, loadConfig, parseConfig } from './config';

describe('parseConfig', () => {
  it.each([
    ['an empty file', ''],
    ['a blank value', 'HELLO_WEB_PORT=\n'],
    ['blank quotes', 'HELLO_WEB_PORT=""\n'],
    ['only comments', '# HELLO_WEB_PORT=8080\n'],
    ['another key only', 'OTHER=1\n'],
  ])('uses the default port for %s', (_, text) => {
    expect(parseConfig(text, 'f')).toEqual({ port: DEFAULT_PORT, defaulted: true });
    expect(DEFAULT_PORT).toBe(9999);
  });

  it.each([
    ['HELLO_WEB_PORT=8080', 8080],
    ['HELLO_WEB_PORT=1', 1],
    ['HELLO_WEB_PORT=65535', 65535],
    ['  HELLO_WEB_PORT = 8081  ', 8081],
    ['HELLO_WEB_PORT="80"', 80],
    ["HELLO_WEB_PORT='8082'", 8082],
    ['HELLO_WEB_PORT=8083\r', 8083],
    ['# comment\nHELLO_WEB_PORT=1\nHELLO_WEB_PORT=2\n', 2],
  ])('reads %j as port %i', (text, port) => {
    expect(parseConfig(text, 'f')).toEqual({ port, defaulted: false });
  });

  it.each(['0', '65536', '70000', '-1', 'abc', '8080abc', '0x50', '8e3', '80.5', '"80'])(
    'rejects %j, naming the file and line',
    (value) => {
      const text = `# hello-web\nHELLO_WEB_PORT=${value}\n`;
      expect(() => parseConfig(text, '/etc/x.env')).toThrow(ConfigError);
      expect(() => parseConfig(text, '/etc/x.env')).toThrow(
        `/etc/x.env:2: HELLO_WEB_PORT must be an integer from 1 to 65535, got "${value}"`,
      );
    },
  );

  it('lets a later blank line reset an earlier port, as a shell would', () => {
    expect(parseConfig('HELLO_WEB_PORT=8080\nHELLO_WEB_PORT=\n', 'f').port).toBe(DEFAULT_PORT);
  });
});

describe('loadConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hello-web-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the file it is given', () => {
    const path = join(dir, 'ok.env');
    writeFileSync(path, 'HELLO_WEB_PORT=8080\n');
    expect(loadConfig(path)).toEqual({ port: 8080, defaulted: false });
  });

  it('reports a missing file as a ConfigError naming the path', () => {
    const path = join(dir, 'missing.env');
    expect(() => loadConfig(path)).toThrow(ConfigError);
    expect(() => loadConfig(path)).toThrow(`cannot read config ${path}`);
  });
});
