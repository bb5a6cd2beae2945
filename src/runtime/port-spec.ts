/** Parsing `-p` values the way Docker users type them, restricted to loopback. */
import { UserError } from '../lib/errors.js';
import type { PortSpec } from './start-instance.js';

/**
 * `HOST:GUEST`, `GUEST` (a free host port), or `127.0.0.1:HOST:GUEST` → a PortSpec; a
 * UserError for anything else. Forwards always bind 127.0.0.1, so another address is refused.
 */
export function parsePortSpec(text: string, flag = '-p'): PortSpec {
  const parts = text.trim().split(':');
  let host = '0';
  let guest: string | undefined;
  if (parts.length === 1) guest = parts[0];
  else if (parts.length === 2) [host, guest] = parts as [string, string];
  else if (parts.length === 3) {
    const addr = parts[0];
    if (addr !== '127.0.0.1' && addr !== 'localhost')
      throw new UserError('InvalidPort', `${flag} ${text}: kiln forwards on 127.0.0.1 only`, {
        hint: 'drop the address, or write 127.0.0.1:HOST:GUEST',
      });
    host = parts[1]!;
    guest = parts[2];
  }
  const num = (s: string | undefined, what: string, min: number): number => {
    if (s === undefined || !/^\d{1,5}$/.test(s) || Number(s) < min || Number(s) > 65535)
      throw new UserError(
        'InvalidPort',
        `${flag} ${text}: ${what} port "${s ?? ''}" is not a port number`,
        {
          hint: `write HOST:GUEST with ports from ${min} to 65535 (e.g. ${flag} 8080:8080), or GUEST alone for a free host port`,
        },
      );
    return Number(s);
  };
  return { host: num(host, 'host', 0), guest: num(guest, 'guest', 1) };
}
