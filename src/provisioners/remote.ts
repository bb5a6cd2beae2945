/**
 * Small helpers shared by the provisioners that work on the machine (file, shell,
 * ansible, ansible-local).
 */
import { randomInt } from 'node:crypto';
import type { Communicator } from '../communicator/communicator.js';
import type { ProvisionContext } from '../core/plugin.js';
import { UserError } from '../lib/errors.js';

/** The build's communicator, or a UserError saying the provisioner needs one. */
export function requireComm(ctx: ProvisionContext): Communicator {
  if (ctx.comm) return ctx.comm;
  throw new UserError(
    'NoCommunicator',
    `${ctx.label} needs a connection to the machine, but the builder has none`,
    {
      hint: 'use a builder with "communicator": "ssh" (null builder: set ssh_host)',
    },
  );
}

/** A random suffix like Packer's `rand.Intn(9999)` names. */
export function randomSuffix(): number {
  return randomInt(0, 9999);
}

/** Splits `KEY=value` (value may hold `=`); undefined when there is no key. */
export function splitKeyValue(kv: string): [string, string] | undefined {
  const eq = kv.indexOf('=');
  if (eq <= 0) return undefined;
  return [kv.slice(0, eq), kv.slice(eq + 1)];
}
