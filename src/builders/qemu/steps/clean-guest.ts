/**
 * Removes every trace of the build from the guest before its disk becomes an image: the
 * build's key from authorized_keys (the file too when nothing else is in it), a user
 * kiln's first-boot unit created, shell histories, `~/.ansible`, the host keys (when the
 * image makes its own at boot), the machine id; then syncs.
 */
import { SystemError } from '../../../core/errors.js';
import type { Step } from '../../../core/steps.js';
import type { QemuState } from '../state.js';

/** The shell script (run as root) that cleans the guest. `keyBody` is the key's base64 field. */
export function cleanGuestScript(user: string, keyBody: string): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return `set -u
user=${q(user)}
key=${q(keyBody)}
home=$(getent passwd "$user" | cut -d: -f6)
for h in /root "$home"; do
  [ -n "$h" ] || continue
  f="$h/.ssh/authorized_keys"
  if [ -f "$f" ]; then
    grep -vF "$key" "$f" > "$f.kiln-tmp" || true
    if [ -s "$f.kiln-tmp" ]; then cat "$f.kiln-tmp" > "$f"; else rm -f "$f"; fi
    rm -f "$f.kiln-tmp"
  fi
  rmdir "$h/.ssh" 2>/dev/null || true
  rm -rf "$h/.ansible" "$h/.bash_history" "$h/.python_history" "$h/.lesshst" "$h/.wget-hsts" "$h/.viminfo"
done
if [ -f /run/kiln-created-user ]; then
  created=$(cat /run/kiln-created-user)
  rm -f "/etc/sudoers.d/kiln-$created"
  userdel -f -r "$created" >/dev/null 2>&1 || true
fi
# Each machine makes its own host key at boot (kiln's base image has the unit for it).
if [ -f /etc/systemd/system/kiln-ssh-host-keys.service ]; then rm -f /etc/ssh/ssh_host_*; fi
if [ -f /etc/machine-id ]; then : > /etc/machine-id; fi
rm -f /var/lib/systemd/random-seed
sync
echo kiln-clean-guest-ok
`;
}

export const cleanGuest: Step<QemuState> = {
  name: 'clean-guest',
  async run(state, { ui, signal }) {
    const comm = state.comm;
    if (!comm || !state.publicKey) return;
    ui.say('Removing the build key and other traces from the guest...');
    const user = state.config.ssh_username!;
    const keyBody = state.publicKey.split(/\s+/)[1] ?? state.publicKey;
    const out: string[] = [];
    const r = await comm.exec({
      command: user === 'root' ? 'sh -s' : 'sudo -n sh -s',
      stdin: cleanGuestScript(user, keyBody),
      signal,
      onStdout: (l) => out.push(l),
      onStderr: (l) => out.push(l),
    });
    if (r.exitCode !== 0 || !out.includes('kiln-clean-guest-ok')) {
      throw new SystemError(
        'CleanGuestFailed',
        `could not clean the guest (exit status ${r.exitCode})`,
        {
          details: out.slice(-10),
          hint:
            user === 'root'
              ? undefined
              : `${user} needs passwordless sudo so that kiln can remove its key before saving the image`,
        },
      );
    }
  },
};
