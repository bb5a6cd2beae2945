/**
 * Removes every trace of the build from the guest before its disk becomes an image: the
 * build's key from authorized_keys (the file too when nothing else is in it), a user
 * kiln's first-boot unit created, shell histories, `~/.ansible`, the host keys (when the
 * image makes its own at boot), the machine id; then syncs.
 */

import type { Step } from '../../../core/steps.js';
import { SystemError } from '../../../lib/errors.js';
import type { QemuState } from '../state.js';

/**
 * The shell script (run as root) that cleans the guest. `keyBody` is the key's base64
 * field. Written with shell builtins where it can: under TCG each process costs time.
 * It ends by syncing and saying whether anything handles the ACPI power button.
 */
export function cleanGuestScript(user: string, keyBody: string): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return `set -u
user=${q(user)}
key=${q(keyBody)}
home=/root
[ "$user" = root ] || home=$(getent passwd "$user" | cut -d: -f6)
doomed=''
dirs=''
for h in /root $home; do
  f="$h/.ssh/authorized_keys"
  if [ -f "$f" ]; then
    kept=''
    while IFS= read -r line || [ -n "$line" ]; do
      case "$line" in *"$key"*) ;; *) kept="$kept$line
" ;; esac
    done < "$f"
    if [ -n "$kept" ]; then printf '%s' "$kept" > "$f"; else doomed="$doomed $f"; fi
  fi
  dirs="$dirs $h/.ssh"
  doomed="$doomed $h/.ansible $h/.bash_history $h/.python_history $h/.lesshst $h/.wget-hsts $h/.viminfo"
done
if [ -f /run/kiln-created-user ]; then
  read -r created < /run/kiln-created-user
  doomed="$doomed /etc/sudoers.d/kiln-$created"
  userdel -f -r "$created" >/dev/null 2>&1 || true
fi
# Each machine makes its own host key at boot (kiln's base image has the unit for it).
[ -f /etc/systemd/system/kiln-ssh-host-keys.service ] && doomed="$doomed /etc/ssh/ssh_host_*"
[ -f /etc/machine-id ] && : > /etc/machine-id
rm -rf $doomed /var/lib/systemd/random-seed
rmdir $dirs 2>/dev/null
sync
if [ -d /run/systemd/seats ] || [ -S /run/acpid.socket ]; then echo kiln-acpi; else echo kiln-noacpi; fi
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
    if (!out.includes('kiln-clean-guest-ok')) {
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
