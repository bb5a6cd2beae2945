/** The `--ca-file` and `--insecure` flags shared by the commands that talk to a registry. */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { UserError } from '../../lib/errors.js';
import type { ClientOptions } from '../../registry/index.js';

export interface RegistryFlags {
  caFile?: string;
  insecure?: boolean;
}

/** Adds the registry connection flags to a command. */
export function addRegistryFlags(cmd: Command): Command {
  return cmd
    .option('--ca-file <pem>', "CA certificates to trust for the registry, besides the system's")
    .option(
      '--insecure',
      'allow plain HTTP and unverified TLS to a registry that is not on this machine',
    );
}

/** The client options the flags ask for; a UserError for a CA file that does not exist. */
export function registryOptions(flags: RegistryFlags): ClientOptions {
  const out: ClientOptions = {};
  if (flags.caFile !== undefined) {
    const file = resolve(flags.caFile);
    if (!existsSync(file))
      throw new UserError('InvalidOption', `--ca-file ${flags.caFile} does not exist`, {
        hint: 'give the PEM file of the CA that signed the registry certificate',
      });
    out.caFile = file;
  }
  if (flags.insecure) out.insecure = true;
  return out;
}
