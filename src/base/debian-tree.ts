/**
 * What turns a plain Debian tree into kiln's base image, written as files and symlinks
 * (no chroot, no mount): systemd-networkd with DHCP, QEMU's resolver, first-boot host
 * keys, a first-boot unit that installs a build's SSH key from systemd credentials, and
 * units masked that a headless image serving HTTP does not need. Every mask was measured
 * against boot-to-SSH time under TCG (see NOTES in the report); none changes what an
 * image can run.
 */
import { chmod, lstat, mkdir, readdir, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/**
 * The address QEMU's user-mode network always hands out (guest 10.0.2.15, gateway 10.0.2.2),
 * in the kernel's `ip=` syntax. kiln's lean initrd sets it with klibc's ipconfig, so that
 * systemd-networkd (≈3–4 s of CPU under TCG before network.target) need not run; an image
 * booted without `ip=` on its command line falls back to networkd with DHCP.
 */
export const SLIRP_IP_CONFIG = '10.0.2.15::10.0.2.2:255.255.255.0::eth0:off';

/** The kernel command line kiln's base images boot with (direct kernel boot, ext4 straight on vda). */
export const BASE_CMDLINE = `root=/dev/vda rw console=ttyS0 quiet ip=${SLIRP_IP_CONFIG}`;

/** Credential names the first-boot unit reads (passed by the builder as SMBIOS OEM strings). */
export const CREDENTIAL_USER = 'kiln.ssh.user';
export const CREDENTIAL_KEY = 'kiln.ssh.authorized_keys';

/**
 * Units masked in the base image. Each is either useless without the hardware or the
 * service (gettys on a headless VM, ifupdown without a DHCP client) or a periodic job an
 * immutable image must not run on its own (apt timers, e2scrub, fstrim).
 */
export const MASKED_UNITS = [
  'e2scrub_reap.service',
  'e2scrub_all.timer',
  'apt-daily.timer',
  'apt-daily-upgrade.timer',
  'dpkg-db-backup.timer',
  'fstrim.timer',
  'systemd-tmpfiles-clean.timer',
  'networking.service',
  'systemd-networkd-wait-online.service',
  'getty@.service',
  'serial-getty@.service',
  'getty-static.service',
  'systemd-pstore.service',
  'remote-fs.target',
  'dev-hugepages.mount',
  'dev-mqueue.mount',
  'sys-kernel-debug.mount',
  'sys-kernel-tracing.mount',
  'sys-fs-fuse-connections.mount',
  'sys-kernel-config.mount',
  'proc-sys-fs-binfmt_misc.automount',
  'systemd-binfmt.service',
  'kmod-static-nodes.service',
  'systemd-remount-fs.service',
  'modprobe@.service',
  'systemd-journal-flush.service',
  'systemd-update-utmp.service',
  'systemd-update-utmp-runlevel.service',
] as const;

/** Generators that find nothing to do in such an image (no crypt, no GPT, no sysv scripts that matter) but cost a process each at boot. */
export const MASKED_GENERATORS = [
  'systemd-cryptsetup-generator',
  'systemd-debug-generator',
  'systemd-gpt-auto-generator',
  'systemd-hibernate-resume-generator',
  'systemd-integritysetup-generator',
  'systemd-rc-local-generator',
  'systemd-run-generator',
  'systemd-system-update-generator',
  'systemd-sysv-generator',
  'systemd-veritysetup-generator',
  'systemd-getty-generator',
] as const;

/** The script of the first-boot unit: installs the build's key for the build's user (creating the user if needed). */
export const AUTHORIZED_KEYS_SCRIPT = `#!/bin/sh
# kiln: install a build's SSH public key, passed as a systemd credential (SMBIOS OEM
# string), for the user named in another credential. Nothing is baked into the image:
# kiln's clean-guest step removes the key (and a user created here) before saving it.
set -eu
creds=/run/credentials/@system
[ -r "$creds/${CREDENTIAL_KEY}" ] || exit 0
user=root
[ -r "$creds/${CREDENTIAL_USER}" ] && user=$(cat "$creds/${CREDENTIAL_USER}")
if ! getent passwd "$user" >/dev/null; then
  useradd -m -s /bin/bash "$user"
  printf '%s ALL=(ALL) NOPASSWD:ALL\\n' "$user" > "/etc/sudoers.d/kiln-$user"
  chmod 0440 "/etc/sudoers.d/kiln-$user"
  echo "$user" > /run/kiln-created-user
fi
home=$(getent passwd "$user" | cut -d: -f6)
group=$(id -gn "$user")
install -d -m 0700 -o "$user" -g "$group" "$home/.ssh"
key=$(cat "$creds/${CREDENTIAL_KEY}")
file="$home/.ssh/authorized_keys"
grep -qsF "$key" "$file" || printf '%s\\n' "$key" >> "$file"
chown "$user:$group" "$file"
chmod 0600 "$file"
`;

interface TreeFile {
  path: string;
  content: string;
  mode?: number;
}

/** The files kiln writes into the tree (paths relative to its root). */
export function baseTreeFiles(hostname: string): TreeFile[] {
  return [
    {
      path: 'etc/systemd/network/10-kiln-dhcp.network',
      // A glob: the interface name depends on the PCI slot (ens2, enp0s3, eth0…).
      content:
        '[Match]\nName=en* eth*\n\n[Network]\nDHCP=ipv4\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n',
    },
    // With ip= on the command line the initrd has configured the network: networkd only
    // when it has not (the condition is evaluated at once, costing nothing).
    {
      path: 'etc/systemd/system/systemd-networkd.service.d/10-kiln.conf',
      content: '[Unit]\nConditionKernelCommandLine=!ip\n',
    },
    {
      path: 'etc/systemd/system/systemd-networkd.socket.d/10-kiln.conf',
      content: '[Unit]\nConditionKernelCommandLine=!ip\n',
    },
    // QEMU's user-mode network answers DNS at 10.0.2.3; there is no systemd-resolved.
    { path: 'etc/resolv.conf', content: 'nameserver 10.0.2.3\n' },
    {
      path: 'etc/fstab',
      content:
        '# kiln: the root file system (ext4 on /dev/vda) is mounted rw by the initrd; nothing else to mount\n',
    },
    { path: 'etc/hostname', content: `${hostname}\n` },
    {
      path: 'etc/hosts',
      content: `127.0.0.1 localhost\n127.0.1.1 ${hostname}\n::1 localhost ip6-localhost ip6-loopback\n`,
    },
    {
      path: 'etc/ssh/sshd_config.d/10-kiln.conf',
      content:
        'HostKey /etc/ssh/ssh_host_ed25519_key\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUseDNS no\n',
    },
    {
      path: 'etc/systemd/system/ssh.service.d/10-kiln.conf',
      // `sshd -t` on every boot costs a process start under TCG; the config is fixed at build time.
      content: '[Service]\nExecStartPre=\n',
    },
    {
      path: 'etc/systemd/system/kiln-ssh-host-keys.service',
      content:
        "[Unit]\nDescription=kiln: generate this machine's SSH host key\nBefore=ssh.service\n" +
        'ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key\n\n[Service]\nType=oneshot\n' +
        'ExecStart=/usr/bin/ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key\n\n' +
        '[Install]\nWantedBy=ssh.service\n',
    },
    { path: 'usr/lib/kiln/authorized-keys', content: AUTHORIZED_KEYS_SCRIPT, mode: 0o755 },
    {
      path: 'etc/systemd/system/kiln-authorized-keys.service',
      content:
        "[Unit]\nDescription=kiln: install the build's SSH key from credentials\n" +
        `ConditionPathExists=/run/credentials/@system/${CREDENTIAL_KEY}\n` +
        'After=systemd-tmpfiles-setup.service systemd-sysusers.service\nBefore=ssh.service\n\n' +
        '[Service]\nType=oneshot\nExecStart=/usr/lib/kiln/authorized-keys\n\n[Install]\nWantedBy=ssh.service\n',
    },
    // The journal in memory: faster to boot, and no build's logs are kept in the image.
    { path: 'etc/systemd/journald.conf.d/10-kiln.conf', content: '[Journal]\nStorage=volatile\n' },
    // Each instance gets its own machine id on first boot.
    { path: 'etc/machine-id', content: '' },
  ];
}

/** Symlinks that enable units (relative to the tree's root → target). */
const ENABLE_LINKS: Array<[string, string]> = [
  [
    'etc/systemd/system/multi-user.target.wants/systemd-networkd.service',
    '/lib/systemd/system/systemd-networkd.service',
  ],
  [
    'etc/systemd/system/sockets.target.wants/systemd-networkd.socket',
    '/lib/systemd/system/systemd-networkd.socket',
  ],
  [
    'etc/systemd/system/ssh.service.wants/kiln-ssh-host-keys.service',
    '/etc/systemd/system/kiln-ssh-host-keys.service',
  ],
  [
    'etc/systemd/system/ssh.service.wants/kiln-authorized-keys.service',
    '/etc/systemd/system/kiln-authorized-keys.service',
  ],
];

/** Applies kiln's customisation to a Debian tree in place (as root: the tree's files keep their owners). */
export async function customiseTree(root: string, opts: { hostname?: string } = {}): Promise<void> {
  for (const f of baseTreeFiles(opts.hostname ?? 'debian')) {
    const p = join(root, f.path);
    await mkdir(dirname(p), { recursive: true });
    await rm(p, { force: true });
    await writeFile(p, f.content, { mode: f.mode ?? 0o644 });
    if (f.mode !== undefined) await chmod(p, f.mode);
  }
  // Host keys must never be baked in: each machine makes its own on first boot.
  const sshDir = join(root, 'etc/ssh');
  for (const name of await readdir(sshDir).catch(() => [] as string[])) {
    if (name.startsWith('ssh_host_')) await rm(join(sshDir, name), { force: true });
  }
  for (const [link, target] of ENABLE_LINKS) await forceSymlink(target, join(root, link));
  for (const unit of MASKED_UNITS)
    await forceSymlink('/dev/null', join(root, 'etc/systemd/system', unit));
  for (const gen of MASKED_GENERATORS)
    await forceSymlink('/dev/null', join(root, 'etc/systemd/system-generators', gen));
}

async function forceSymlink(target: string, path: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const exists = await lstat(path).then(
    () => true,
    () => false,
  );
  if (exists) await unlink(path);
  await symlink(target, path);
}
