/**
 * The host key a build saw, written as an OpenSSH known_hosts file, so that tools which
 * connect on their own (ansible-playbook through OpenSSH) can check the machine with
 * `StrictHostKeyChecking=yes` instead of turning host key checking off.
 */
import { writeFile } from 'node:fs/promises';

/** The key type (`ssh-ed25519`, …) named inside an SSH wire-format public key blob. */
export function hostKeyType(blob: Buffer): string {
  if (blob.length < 4) return 'unknown';
  const len = blob.readUInt32BE(0);
  if (len <= 0 || len > 64 || 4 + len > blob.length) return 'unknown';
  return blob.subarray(4, 4 + len).toString('latin1');
}

/** The host pattern OpenSSH looks up: `host` on port 22, else `[host]:port`. */
export function knownHostsPattern(host: string, port: number): string {
  return port === 22 ? host : `[${host}]:${port}`;
}

/** One known_hosts line: `[host]:port ssh-ed25519 AAAA…`. */
export function knownHostsLine(host: string, port: number, blob: Buffer): string {
  return `${knownHostsPattern(host, port)} ${hostKeyType(blob)} ${blob.toString('base64')}`;
}

/** Writes (replaces) a known_hosts file holding the one key, mode 0600. */
export async function writeKnownHosts(
  file: string,
  host: string,
  port: number,
  blob: Buffer,
): Promise<void> {
  await writeFile(file, `${knownHostsLine(host, port, blob)}\n`, { mode: 0o600 });
}
