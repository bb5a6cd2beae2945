/**
 * How kiln connects to a registry: a CA file to trust besides the system's, and the insecure
 * setting (plain HTTP and unverified TLS to a host that is not this machine). Given on the
 * command line (`--ca-file`/`--insecure` on push, pull and run; `--registry-ca-file`/
 * `--registry-insecure` on build and pipeline, where they are about the registry cache),
 * in the environment (KILN_REGISTRY_CA_FILE, KILN_REGISTRY_INSECURE), or in the pipeline file
 * (`registry_ca_file`, `registry_insecure`); a flag wins over the environment, which wins
 * over the file.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { UserError } from '../../lib/errors.js';
import type { ClientOptions } from '../../registry/index.js';

/** The environment variable naming a CA file (PEM) trusted for registries. */
export const CA_FILE_ENV = 'KILN_REGISTRY_CA_FILE';
/** The environment variable that, set to 1/true, allows plain HTTP and unverified TLS to any registry. */
export const INSECURE_ENV = 'KILN_REGISTRY_INSECURE';

export interface RegistryFlags {
  caFile?: string;
  insecure?: boolean;
}

/** The same settings under the names `kiln build` and `kiln pipeline` use for the registry cache. */
export interface CacheRegistryFlags {
  registryCaFile?: string;
  registryInsecure?: boolean;
}

/** Adds the registry connection flags to a command that names a registry (push, pull, run). */
export function addRegistryFlags(cmd: Command): Command {
  return cmd
    .option(
      '--ca-file <pem>',
      `CA certificates to trust for the registry, besides the system's (or ${CA_FILE_ENV})`,
    )
    .option(
      '--insecure',
      `allow plain HTTP and unverified TLS to a registry that is not on this machine (or ${INSECURE_ENV}=1)`,
    );
}

/** Adds the registry cache's connection flags (build, pipeline). */
export function addCacheRegistryFlags(cmd: Command): Command {
  return cmd
    .option(
      '--registry-ca-file <pem>',
      `CA certificates to trust for the registry cache, besides the system's (or ${CA_FILE_ENV})`,
    )
    .option(
      '--registry-insecure',
      `allow plain HTTP and unverified TLS to a registry cache that is not on this machine (or ${INSECURE_ENV}=1)`,
    );
}

/** Where a setting came from, for its error messages. */
interface Sourced<T> {
  value: T;
  where: string;
}

/** A file setting of the pipeline file, with the place its errors name. */
export interface FileRegistrySettings {
  caFile?: Sourced<string>;
  insecure?: Sourced<boolean>;
}

function parseBool(text: string, where: string): boolean {
  if (/^(1|true|yes|on)$/i.test(text)) return true;
  if (/^(0|false|no|off|)$/i.test(text)) return false;
  throw new UserError('InvalidOption', `${where}="${text}" is neither true nor false`, {
    hint: `set ${where}=1 to allow plain HTTP and unverified TLS, or unset it`,
  });
}

/**
 * The client options that the flags, then the environment, then the pipeline file ask for;
 * a UserError naming the setting for a CA file that does not exist or an unreadable switch.
 */
export function registryOptions(
  flags: RegistryFlags,
  env: NodeJS.ProcessEnv = process.env,
  file: FileRegistrySettings = {},
  caFlag = '--ca-file',
): ClientOptions {
  const out: ClientOptions = {};
  const envCa = env[CA_FILE_ENV];
  const ca: Sourced<string> | undefined =
    flags.caFile !== undefined
      ? { value: flags.caFile, where: caFlag }
      : envCa
        ? { value: envCa, where: CA_FILE_ENV }
        : file.caFile;
  if (ca) {
    const path = resolve(ca.value);
    if (!existsSync(path))
      throw new UserError('InvalidOption', `${ca.where}: ${ca.value} does not exist`, {
        hint: 'give the PEM file of the CA that signed the registry certificate',
      });
    out.caFile = path;
  }
  const envInsecure = env[INSECURE_ENV];
  const insecure = flags.insecure
    ? true
    : envInsecure !== undefined
      ? parseBool(envInsecure, INSECURE_ENV)
      : (file.insecure?.value ?? false);
  if (insecure) out.insecure = true;
  return out;
}

/** `registryOptions` for the cache flags of build and pipeline. */
export function cacheRegistryOptions(
  flags: CacheRegistryFlags,
  env: NodeJS.ProcessEnv,
  file: FileRegistrySettings = {},
): ClientOptions {
  return registryOptions(
    {
      ...(flags.registryCaFile !== undefined ? { caFile: flags.registryCaFile } : {}),
      ...(flags.registryInsecure ? { insecure: true } : {}),
    },
    env,
    file,
    '--registry-ca-file',
  );
}
