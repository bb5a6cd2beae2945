/**
 * What every builder that saves a machine's disk as an image removes from it first: the
 * build's key from authorized_keys (the file too when nothing else is in it), a user kiln's
 * first-boot unit created, shell histories, `~/.ansible`, the host keys (when the image
 * makes its own at boot), the machine id. Shared by the qemu builder (over SSH, in the
 * running guest) and the chroot builder (in the mounted file system).
 */

/**
 * The shell script (run as root) that cleans the machine. `keyBody` is the build key's
 * base64 field; without one (a chroot build has no key) authorized_keys are left as they
 * are. Written with shell builtins where it can: under TCG each process costs time. It
 * ends by syncing (unless `sync` is false), saying whether anything handles the ACPI power
 * button, and `kiln-clean-guest-ok`. A chroot build passes `sync: false`: there `sync`
 * flushes every file system of the host (other builds' disks too: up to 0.3 s on a busy
 * machine), while unmounting the image and flushing its export make its writes durable.
 */
export function cleanGuestScript(
  user: string,
  keyBody: string | undefined,
  { sync = true }: { sync?: boolean } = {},
): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return `set -u
user=${q(user)}
key=${q(keyBody ?? '')}
home=/root
[ "$user" = root ] || home=$(getent passwd "$user" | cut -d: -f6)
doomed=''
dirs=''
for h in /root $home; do
  f="$h/.ssh/authorized_keys"
  if [ -n "$key" ] && [ -f "$f" ]; then
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
${sync ? 'sync\n' : ''}if [ -d /run/systemd/seats ] || [ -S /run/acpid.socket ]; then echo kiln-acpi; else echo kiln-noacpi; fi
echo kiln-clean-guest-ok
`;
}

/** The line the script prints last when it ran to the end. */
export const CLEAN_GUEST_OK = 'kiln-clean-guest-ok';
