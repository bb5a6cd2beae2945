/**
 * Who we are to a registry. Credentials come from Docker's `config.json` (`credHelpers`,
 * then `credsStore`, then `auths`), read only when a registry asks; the registry's
 * `WWW-Authenticate` challenge decides how they are used: Basic sends them with every
 * request, Bearer trades them at the token service (realm, service, scope) for a token
 * that is cached per scope until shortly before it expires.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { SystemError, UserError } from '../lib/errors.js';
import { run } from '../lib/exec.js';
import type { Transport } from './transport.js';

/** A user name and password, or an identity (refresh) token from `docker login` with OAuth. */
export type Credentials =
  | { username: string; password: string; identityToken?: undefined; source: string }
  | { identityToken: string; username?: string; source: string };

/** Where credentials for a registry come from. */
export interface CredentialStore {
  /** The credentials for `registry` (`host[:port]`), or undefined for anonymous access. */
  get(registry: string, signal?: AbortSignal): Promise<Credentials | undefined>;
}

/** One challenge of a `WWW-Authenticate` header. */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parses a `WWW-Authenticate` header (RFC 7235): several challenges, each a scheme and
 * comma-separated `key=value` or `key="quoted, value"` parameters.
 */
export function parseChallenges(header: string): Challenge[] {
  const out: Challenge[] = [];
  const re = /\s*([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)(?:\s+|$)/y;
  const param = /\s*([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?/y;
  let i = 0;
  while (i < header.length) {
    re.lastIndex = i;
    const m = re.exec(header);
    if (!m) break;
    i = re.lastIndex;
    const ch: Challenge = { scheme: m[1]!.toLowerCase(), params: {} };
    for (;;) {
      param.lastIndex = i;
      const p = param.exec(header);
      if (!p) break;
      // A token followed by a space and no `=` starts the next challenge, not a parameter.
      ch.params[p[1]!.toLowerCase()] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : p[3]!;
      i = param.lastIndex;
    }
    out.push(ch);
    while (header[i] === ',' || header[i] === ' ') i++;
  }
  return out;
}

/** The scope string for a repository (`repository:team/app:pull,push`). */
export function repositoryScope(repository: string, actions: 'pull' | 'pull,push'): string {
  return `repository:${repository}:${actions}`;
}

interface DockerConfig {
  auths?: Record<
    string,
    { auth?: string; username?: string; password?: string; identitytoken?: string }
  >;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

/** Options for reading Docker's client configuration. */
export interface DockerConfigOptions {
  /** The directory holding `config.json` (default `$DOCKER_CONFIG`, else `~/.docker`). */
  configDir?: string;
  /** Environment for credential helpers (default: this process's). */
  env?: NodeJS.ProcessEnv;
}

/** Credentials from Docker's `config.json` and its credential helpers, as `docker login` leaves them. */
export class DockerConfigCredentials implements CredentialStore {
  private readonly dir: string;
  private readonly env: NodeJS.ProcessEnv | undefined;

  constructor(opts: DockerConfigOptions = {}) {
    this.dir = opts.configDir ?? process.env.DOCKER_CONFIG ?? join(homedir(), '.docker');
    this.env = opts.env;
  }

  async get(registry: string, signal?: AbortSignal): Promise<Credentials | undefined> {
    const file = join(this.dir, 'config.json');
    let config: DockerConfig;
    try {
      config = JSON.parse(await readFile(file, 'utf8')) as DockerConfig;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new UserError('DockerConfigInvalid', `cannot read ${file}: ${(err as Error).message}`, {
        where: file,
        hint: 'fix or remove the file (docker login writes it)',
      });
    }
    const helper = config.credHelpers?.[registry] ?? config.credsStore;
    if (helper) {
      const fromHelper = await this.fromHelper(helper, registry, signal);
      if (fromHelper) return fromHelper;
    }
    for (const [key, entry] of Object.entries(config.auths ?? {})) {
      if (authKeyHost(key) !== registry) continue;
      const where = `${file}: auths["${key}"]`;
      if (entry.identitytoken) return { identityToken: entry.identitytoken, source: where };
      if (entry.auth) {
        const plain = Buffer.from(entry.auth, 'base64').toString('utf8');
        const colon = plain.indexOf(':');
        if (colon < 0)
          throw new UserError(
            'DockerConfigInvalid',
            `${where}.auth is not base64 of user:password`,
            {
              where: file,
              hint: `run docker login ${registry} again`,
            },
          );
        return { username: plain.slice(0, colon), password: plain.slice(colon + 1), source: where };
      }
      if (entry.username !== undefined && entry.password !== undefined)
        return { username: entry.username, password: entry.password, source: where };
    }
    return undefined;
  }

  private async fromHelper(
    helper: string,
    registry: string,
    signal?: AbortSignal,
  ): Promise<Credentials | undefined> {
    const program = `docker-credential-${helper}`;
    const r = await run(program, ['get'], {
      input: registry,
      signal,
      env: this.env,
      extendEnv: this.env === undefined,
      reject: false,
      timeoutMs: 30_000,
      installHint: `config.json names the credential helper "${helper}": install ${program} or remove it from config.json`,
    });
    if (r.exitCode !== 0) {
      // The helper protocol's "no credentials for this server" is not an error.
      if (/credentials not found/i.test(r.stdout + r.stderr)) return undefined;
      throw new SystemError(
        'CredentialHelperFailed',
        `${program} get failed (exit ${r.exitCode})`,
        {
          details: [(r.stderr || r.stdout).trim()].filter(Boolean),
        },
      );
    }
    let out: { Username?: string; Secret?: string };
    try {
      out = JSON.parse(r.stdout) as { Username?: string; Secret?: string };
    } catch {
      throw new SystemError('CredentialHelperFailed', `${program} get did not answer with JSON`);
    }
    if (!out.Secret) return undefined;
    const source = `credential helper ${program}`;
    // Docker's convention: the user name `<token>` marks an identity token.
    if (out.Username === '<token>') return { identityToken: out.Secret, source };
    return { username: out.Username ?? '', password: out.Secret, source };
  }
}

/** Fixed credentials (tests, or a caller that has its own source). */
export class StaticCredentials implements CredentialStore {
  constructor(
    private readonly byRegistry: Record<string, { username: string; password: string }>,
  ) {}

  async get(registry: string): Promise<Credentials | undefined> {
    const c = this.byRegistry[registry];
    return c ? { ...c, source: 'the given credentials' } : undefined;
  }
}

/** `https://host:port/v1/` and `host:port` both name `host:port`. */
function authKeyHost(key: string): string {
  return key.replace(/^[a-z]+:\/\//i, '').replace(/\/.*$/, '');
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

/** Answers a registry's challenges and remembers the result per scope. */
export class Authenticator {
  private mode: 'none' | 'basic' | 'bearer' = 'none';
  private bearer: Record<string, string> = {};
  private readonly tokens = new Map<string, CachedToken>();
  private credentials: Credentials | undefined | null = null;

  constructor(
    private readonly transport: Transport,
    private readonly store: CredentialStore,
  ) {}

  /** The Authorization header for a request needing `scopes`, fetching a token when the registry uses Bearer. */
  async header(scopes: string[], signal?: AbortSignal): Promise<string | undefined> {
    if (this.mode === 'basic') return this.basicHeader(signal);
    if (this.mode !== 'bearer') return undefined;
    const key = scopes.slice().sort().join(' ');
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt > Date.now()) return `Bearer ${cached.token}`;
    const token = await this.fetchToken(scopes, signal);
    this.tokens.set(key, token);
    return `Bearer ${token.token}`;
  }

  /**
   * Learns from a 401's `WWW-Authenticate`; returns false when a retry would be refused the
   * same way (the credentials were already sent), so the caller reports the refusal.
   */
  async challenge(
    header: string | undefined,
    scopes: string[],
    signal?: AbortSignal,
  ): Promise<boolean> {
    const challenges = parseChallenges(header ?? '');
    const bearer = challenges.find((c) => c.scheme === 'bearer');
    const basic = challenges.find((c) => c.scheme === 'basic');
    if (bearer?.params.realm) {
      const key = scopes.slice().sort().join(' ');
      const wasBearer = this.mode === 'bearer' && this.tokens.has(key);
      this.mode = 'bearer';
      this.bearer = bearer.params;
      // A token we just used was refused (expired or too narrow): fetch a fresh one once.
      if (wasBearer) {
        const had = this.tokens.get(key)!;
        this.tokens.delete(key);
        return had.expiresAt - Date.now() < 30_000 || bearer.params.error === 'insufficient_scope';
      }
      return true;
    }
    if (basic) {
      if (this.mode === 'basic') return false;
      this.mode = 'basic';
      return (await this.creds(signal)) !== undefined;
    }
    return false;
  }

  /** Where the credentials in use came from (for error messages), or undefined when anonymous. */
  async credentialSource(signal?: AbortSignal): Promise<string | undefined> {
    return (await this.creds(signal))?.source;
  }

  private async creds(signal?: AbortSignal): Promise<Credentials | undefined> {
    if (this.credentials === null)
      this.credentials = await this.store.get(this.transport.registry, signal);
    return this.credentials;
  }

  private async basicHeader(signal?: AbortSignal): Promise<string | undefined> {
    const c = await this.creds(signal);
    if (!c || c.identityToken !== undefined) return undefined;
    return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
  }

  private async fetchToken(scopes: string[], signal?: AbortSignal): Promise<CachedToken> {
    const { realm, service } = this.bearer;
    if (!realm)
      throw new SystemError(
        'RegistryAuth',
        `${this.transport.registry} sent a Bearer challenge without a realm`,
      );
    const url = new URL(realm);
    const c = await this.creds(signal);
    const started = Date.now();
    let res: Awaited<ReturnType<Transport['request']>>;
    if (c?.identityToken !== undefined) {
      // OAuth2 refresh-token grant: what `docker login` stores for identity-token registries.
      const form = new URLSearchParams({
        grant_type: 'refresh_token',
        refresh_token: c.identityToken,
        client_id: 'kiln',
      });
      if (service) form.set('service', service);
      if (scopes.length) form.set('scope', scopes.join(' '));
      const body = Buffer.from(form.toString());
      res = await this.transport.request({
        method: 'POST',
        url,
        headers: {
          'Content-Type': 'application/x-www-form-urlencoded',
          'Content-Length': String(body.length),
        },
        body: () => body,
        signal,
      });
    } else {
      if (service) url.searchParams.set('service', service);
      for (const s of scopes) url.searchParams.append('scope', s);
      const headers: Record<string, string> = {};
      if (c)
        headers.Authorization = `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
      res = await this.transport.request({
        method: 'GET',
        url,
        headers,
        signal,
        followRedirects: true,
      });
    }
    if (res.status === 401 || res.status === 403) {
      res.discard();
      throw authRefused(
        this.transport.registry,
        c?.source,
        `the token service ${url.origin}${url.pathname} answered ${res.status}`,
      );
    }
    if (res.status !== 200) {
      const text = await res.text(64 << 10).catch(() => '');
      throw new SystemError(
        'RegistryAuth',
        `the token service of ${this.transport.registry} answered ${res.status}`,
        {
          where: `${url.origin}${url.pathname}`,
          details: [text.slice(0, 500)].filter(Boolean),
        },
      );
    }
    const body = JSON.parse(await res.text(1 << 20)) as {
      token?: string;
      access_token?: string;
      expires_in?: number;
    };
    const token = body.token ?? body.access_token;
    if (!token)
      throw new SystemError(
        'RegistryAuth',
        `the token service of ${this.transport.registry} sent no token`,
      );
    // The spec's default lifetime is 60 s; renew 10 s early so a request never starts with a dying token.
    const lifetime = (body.expires_in && body.expires_in > 0 ? body.expires_in : 60) * 1000;
    return { token, expiresAt: started + Math.max(lifetime - 10_000, lifetime / 2) };
  }
}

/** The error for credentials a registry refused (or that it needs and we do not have). */
export function authRefused(
  registry: string,
  source: string | undefined,
  detail: string,
): UserError {
  if (!source)
    return new UserError(
      'RegistryAuth',
      `${registry} requires credentials and none were found (${detail})`,
      {
        hint: `log in first (docker login ${registry}), or add them to ~/.docker/config.json`,
      },
    );
  return new UserError(
    'RegistryAuth',
    `${registry} refused the credentials from ${source} (${detail})`,
    {
      hint: `check the user name and password (docker login ${registry})`,
    },
  );
}
