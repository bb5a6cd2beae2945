/** What `kiln base` puts into a base image: the bases it knows, their packages, the disk size. */

/** The bases `kiln base` knows, by name. */
export const BASES: Record<string, { suite: string; description: string }> = {
  'debian-12': {
    suite: 'bookworm',
    description: 'Debian 12 (bookworm), minbase + systemd, OpenSSH, Python 3, Node.js',
  },
};

/** What goes into a base image on top of minbase. */
export const BASE_PACKAGES = [
  'systemd',
  'systemd-sysv',
  'udev',
  'linux-image-cloud-amd64',
  'openssh-server',
  'python3',
  'sudo',
  'nodejs',
  'ca-certificates',
  'iproute2',
  // The lean initrd is made from klibc's tools (initramfs-tools also pulls it in).
  'klibc-utils',
];

/** Documentation and translations are left out: a smaller image is faster to write and to copy. */
export const DPKG_EXCLUDES = [
  'path-exclude=/usr/share/man/*',
  'path-exclude=/usr/share/info/*',
  'path-exclude=/usr/share/doc/*',
  'path-include=/usr/share/doc/*/copyright',
  'path-exclude=/usr/share/locale/*',
  'path-include=/usr/share/locale/locale.alias',
];

/** Virtual size of the base disk; builds may grow it with `disk_size`. */
export const BASE_DISK_SIZE = '4G';
