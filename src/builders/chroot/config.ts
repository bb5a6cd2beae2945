/**
 * The `kiln-chroot` builder's config: a catalog `source_image` (as the qemu builder's),
 * the new image's `vm_name`, and the amazon-chroot options that apply to a local image:
 * `chroot_mounts`, `copy_files`, `command_wrapper`, `pre_mount_commands`,
 * `post_mount_commands`, `mount_options`. One schema gives the type and the validation.
 */
import { posix } from 'node:path';
import { z } from 'zod';

/** What the chroot gets mounted by default (Packer's amazon-chroot list, without binfmt_misc). */
export const DEFAULT_CHROOT_MOUNTS: ReadonlyArray<readonly [string, string, string]> = [
  ['proc', 'proc', '/proc'],
  ['sysfs', 'sysfs', '/sys'],
  ['bind', '/dev', '/dev'],
  ['devpts', 'devpts', '/dev/pts'],
];

const insidePath = z
  .string()
  .min(1)
  .refine((p) => posix.isAbsolute(p) && posix.normalize(p) !== '/', {
    error: 'must be an absolute path below / (e.g. "/proc")',
  });

export const chrootConfigSchema = z
  .strictObject({
    /** A catalog image to build on: id, unique id prefix, name or tag (e.g. `debian-12`). */
    source_image: z.string().min(1),
    /** Name of the new catalog image (default: the build's name), as the qemu builder's `vm_name`. */
    vm_name: z.string().min(1).optional(),
    /**
     * Build from a source image kiln did not make (imported, pulled): its programs run on
     * this host as root, so kiln refuses such an image unless this is true.
     */
    trust_source: z.boolean().default(false),
    /** `[type, source, path in the chroot]` mounted before provisioning (`bind` binds a host path). */
    chroot_mounts: z
      .array(z.tuple([z.string().min(1), z.string().min(1), insidePath]))
      .default(DEFAULT_CHROOT_MOUNTS.map((m) => [...m] as [string, string, string])),
    /** Host files made visible at the same path in the chroot while it builds (bound read-only, gone after). */
    copy_files: z.array(insidePath).default(['/etc/resolv.conf']),
    /** How host commands run: `{{.Command}}` is the command (e.g. `sudo {{.Command}}`). */
    command_wrapper: z.string().default('{{.Command}}'),
    /** Host shell commands run before the image is mounted (`{{.Device}}`: its loop device). */
    pre_mount_commands: z.array(z.string()).default([]),
    /** Host shell commands run once it is mounted (`{{.Device}}`, `{{.MountPath}}`). */
    post_mount_commands: z.array(z.string()).default([]),
    /** Options for mounting the image's root file system (`mount -o`). */
    mount_options: z.array(z.string().min(1)).default([]),
  })
  .superRefine((c, issue) => {
    c.chroot_mounts.forEach(([type, source], i) => {
      if (type === 'bind' && posix.normalize(source) === '/') {
        issue.addIssue({
          code: 'custom',
          path: ['chroot_mounts', i],
          message:
            "binding the host's root into the chroot is refused: bind only what provisioners need",
        });
      }
    });
    if (!/\{\{\s*\.Command\s*\}\}/.test(c.command_wrapper)) {
      issue.addIssue({
        code: 'custom',
        path: ['command_wrapper'],
        message: 'command_wrapper must contain {{.Command}}',
      });
    }
  });

export type ChrootConfig = z.infer<typeof chrootConfigSchema>;
