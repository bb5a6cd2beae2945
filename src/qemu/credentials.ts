/**
 * The systemd credentials (SMBIOS OEM strings, type 11) that make a guest accept a
 * build's SSH key without baking it into the image. systemd 252 imports them at boot;
 * kiln's base image has a first-boot unit that reads the two `kiln.*` names.
 */

/** The user whose authorized_keys kiln's first-boot unit writes (created when missing). */
export const CREDENTIAL_USER = 'kiln.ssh.user';
/** The public key kiln's first-boot unit authorizes for CREDENTIAL_USER. */
export const CREDENTIAL_KEY = 'kiln.ssh.authorized_keys';

/**
 * The credentials that make the guest accept the build's key. For root, systemd's own
 * tmpfiles rule (`ssh.authorized_keys.root`) writes it, with no extra unit on the boot's
 * critical path; for any other user, kiln's first-boot unit in its base image does.
 */
export function sshCredentials(user: string, publicKey: string): Record<string, string> {
  if (user === 'root') return { 'ssh.authorized_keys.root': publicKey };
  return { [CREDENTIAL_KEY]: publicKey, [CREDENTIAL_USER]: user };
}
