// Reading hello-web's config file: the only place the release step changes.
import { readFileSync } from 'node:fs';

/** Where the Debian package installs the config (a conffile, shipped with a blank port). */
export const DEFAULT_CONFIG_PATH = '/etc/hello-web/hello-web.env';

/** The port used when the config leaves HELLO_WEB_PORT blank or out. */
export const DEFAULT_PORT = 9999;

/** A problem with the config file the operator must fix; the service exits with code 2. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** What the config says, and where a value came from (for the start-up log line). */
export interface HelloWebConfig {
  port: number;
  /** True when HELLO_WEB_PORT was blank or absent, so the default port is used. */
  defaulted: boolean;
}

const PORT_LINE = /^\s*HELLO_WEB_PORT\s*=(.*)$/;

/**
 * Parses env-file text (KEY=value lines, `#` comments, optional quotes; the last
 * HELLO_WEB_PORT line wins, as in a shell). Throws ConfigError naming file and line
 * when the port is not an integer from 1 to 65535.
 */
export function parseConfig(text: string, where: string): HelloWebConfig {
  let raw = '';
  let lineNo = 0;
  text.split('\n').forEach((line, index) => {
    const match = PORT_LINE.exec(line.replace(/\r$/, ''));
    if (match) {
      raw = unquote((match[1] ?? '').trim());
      lineNo = index + 1;
    }
  });
  if (raw === '') return { port: DEFAULT_PORT, defaulted: true };
  // Digits only: Number('0x50'), Number('8e3') and Number(' 80 ') would all pass a looser check.
  const port = /^[0-9]{1,5}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new ConfigError(
      `${where}:${lineNo}: HELLO_WEB_PORT must be an integer from 1 to 65535, got "${raw}" ` +
        `(leave it blank for the default ${DEFAULT_PORT})`,
    );
  }
  return { port, defaulted: false };
}

/** Reads and parses the config file; a missing or unreadable file is a ConfigError too. */
export function loadConfig(path: string): HelloWebConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new ConfigError(
      `cannot read config ${path}: ${reason} (the hello-web package installs it; ` +
        'set HELLO_WEB_CONFIG to use another file)',
    );
  }
  return parseConfig(text, path);
}

function unquote(value: string): string {
  const first = value[0];
  if (value.length >= 2 && (first === '"' || first === "'") && value.endsWith(first)) {
    return value.slice(1, -1).trim();
  }
  return value;
}
