/**
 * What turns a plain Debian tree into kiln's base image, written as files and symlinks
 * (no chroot, no mount): systemd-networkd with DHCP, QEMU's resolver, first-boot host
 * keys, a first-boot unit that installs a build's SSH key from systemd credentials, and
 * units masked that a headless image serving HTTP does not need. Every mask was measured
 * against boot-to-SSH time under TCG (see NOTES in the report); none changes what an
 * image can run.
 */
import {
  chmod,
  lstat,
  mkdir,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  unlink,
  utimes,
  writeFile,
} from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CREDENTIAL_KEY, CREDENTIAL_USER } from '../qemu/credentials.js';

/**
 * The address QEMU's user-mode network always hands out (guest 10.0.2.15, gateway 10.0.2.2),
 * in the kernel's `ip=` syntax. kiln's lean initrd sets it with klibc's ipconfig, so that
 * systemd-networkd (≈3–4 s of CPU under TCG before network.target) need not run; an image
 * booted without `ip=` on its command line falls back to networkd with DHCP.
 */
export const SLIRP_IP_CONFIG = '10.0.2.15::10.0.2.2:255.255.255.0::eth0:off';

/**
 * The kernel command line kiln's base images boot with (direct kernel boot, ext4 straight on
 * vda). `cryptomgr.notests`: the crypto algorithms' boot self-tests took ~0.7 s of a TCG boot
 * (initcall_debug: crypto_algapi_init 0.60 s → 0.07 s, crypto_kdf108_init 0.18 s → 0.06 s).
 */
export const BASE_CMDLINE = `root=/dev/vda rw console=ttyS0 quiet cryptomgr.notests ip=${SLIRP_IP_CONFIG}`;

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
  // The seed file would be the same in every instance of an image (baked in by the build's
  // shutdown) and is never credited; virtio-rng seeds the kernel instead. ~0.5 s of TCG CPU.
  'systemd-random-seed.service',
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

/**
 * Modules udev would load on every boot for QEMU's emulated PC hardware, which a kiln VM
 * (virtio disk and network) never uses: probing the PIIX IDE channels, KVM's setup for
 * nested guests and the rest cost ~1–2 s of guest CPU under TCG while the image's service
 * starts. `blacklist` only stops automatic loading: `modprobe ata_piix` still works.
 */
export const BLACKLISTED_MODULES = [
  'ata_piix',
  'ata_generic',
  'pata_acpi',
  'floppy',
  'kvm',
  'kvm_amd',
  'kvm_intel',
  'serio_raw',
  'pcspkr',
  'powernow_k8',
  'acpi_cpufreq',
] as const;

/**
 * A generator: when the kernel command line has `ip=` (the initrd configured the network),
 * systemd-networkd is masked for this boot, so that network.target does not wait for udevd
 * to start only to find networkd's condition false (~1 s under TCG on the way to the services).
 */
export const IP_NETWORK_GENERATOR = `#!/bin/sh
# kiln: the initrd configured the network from ip=; networkd has nothing to do this boot.
case " $(cat /proc/cmdline) " in
  *" ip="*)
    ln -sf /dev/null "$1/systemd-networkd.service"
    ln -sf /dev/null "$1/systemd-networkd.socket"
    ;;
esac
`;

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
        // First boot of every instance: ssh-keygen must not take the CPU from the image's service.
        'Nice=10\n' +
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
    {
      path: 'etc/modprobe.d/kiln-blacklist.conf',
      content: `# kiln: emulated PC hardware a kiln VM does not use (modprobe still loads them on request)\n${BLACKLISTED_MODULES.map((m) => `blacklist ${m}\n`).join('')}`,
    },
    {
      path: 'etc/systemd/system-generators/kiln-ip-network',
      content: IP_NETWORK_GENERATOR,
      mode: 0o755,
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
  await tmpfilesWithoutJournald(root);
  await dropEmptyModulesConf(root);
  await markUpdated(root);
}

/**
 * Debian's systemd-tmpfiles-setup.service waits for journald to have started (only so that
 * its messages land in the journal); every service with PrivateTmp= (DynamicUser= implies
 * it) waits for tmpfiles-setup, so journald's slow start (~1–2 s under TCG) sat on the
 * service's path. A copy of the tree's own unit without that ordering goes into /etc
 * (messages still reach journald's socket, which is ordered first). No-op without the unit.
 */
export async function tmpfilesWithoutJournald(root: string): Promise<void> {
  const unit = 'systemd-tmpfiles-setup.service';
  const text = await readFile(join(root, 'lib/systemd/system', unit), 'utf8').catch(() => '');
  if (text === '') return;
  const edited = text
    .split('\n')
    .map((line) =>
      line.startsWith('After=')
        ? line
            .split(/\s+/)
            .filter((w) => w !== 'systemd-journald.service')
            .join(' ')
        : line,
    )
    .join('\n');
  const header = `# kiln: ${unit} from this tree, without After=systemd-journald.service\n`;
  await writeFile(join(root, 'etc/systemd/system', unit), header + edited, { mode: 0o644 });
}

/** Debian's /etc/modules (via modules-load.d) with no entry still costs a systemd-modules-load run at every boot. */
async function dropEmptyModulesConf(root: string): Promise<void> {
  const modules = await readFile(join(root, 'etc/modules'), 'utf8').catch(() => undefined);
  if (modules === undefined) return;
  const entries = modules.split('\n').filter((l) => l.trim() !== '' && !/^\s*#/.test(l));
  if (entries.length === 0)
    await rm(join(root, 'etc/modules-load.d/modules.conf'), { force: true });
}

/**
 * Writes /etc/.updated and /var/.updated as systemd-update-done would (Debian does not ship
 * it), newer than /usr: ConditionNeedsUpdate= is then false, and systemd-sysusers (which
 * has tmpfiles-setup, and so every PrivateTmp= service, waiting ~1 s under TCG) does not
 * run on every boot of every instance. A later package that changes /usr makes it run again.
 */
export async function markUpdated(root: string): Promise<void> {
  const usr = await stat(join(root, 'usr')).catch(() => undefined);
  if (!usr) return;
  // One second later than /usr: systemd compares whole seconds first, and ext4 keeps them.
  const when = new Date((Math.floor(usr.mtimeMs / 1000) + 1) * 1000);
  const nsec = BigInt(when.getTime()) * 1_000_000n;
  for (const dir of ['etc', 'var']) {
    const p = join(root, dir, '.updated');
    await mkdir(join(root, dir), { recursive: true });
    await writeFile(
      p,
      `# Written by kiln's base image build in place of systemd-update-done.\nTIMESTAMP_NSEC=${nsec}\n`,
      { mode: 0o644 },
    );
    await utimes(p, when, when);
  }
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
