/**
 * The `null` builder's config (Packer 1.6.6): only a communicator. `communicator: none`
 * runs the provisioners without a machine (shell-local); `ssh` connects to an existing
 * host. Packer's own checks and messages.
 */
import { z } from 'zod';
import { goDuration } from '../../lib/duration-schema.js';

export const nullConfigSchema = z
  .strictObject({
    /** `ssh` (Packer's default) or `none`. */
    communicator: z.enum(['ssh', 'none']).default('ssh'),
    /** Host to connect to. */
    ssh_host: z.string().optional(),
    /** SSH port (default 22). */
    ssh_port: z.number().int().min(1).max(65535).default(22),
    /** User to log in as. */
    ssh_username: z.string().optional(),
    /** Password authentication (not supported by kiln's SSH communicator: use a key). */
    ssh_password: z.string().optional(),
    /** Private key file for authentication. */
    ssh_private_key_file: z.string().optional(),
    /** Use the SSH agent (not supported by kiln: use a key file). */
    ssh_agent_auth: z.boolean().optional(),
    /** How long to wait for SSH (Go duration, default 5m). */
    ssh_timeout: goDuration.default('5m'),
    /** Accepted for compatibility (kiln retries until `ssh_timeout`). */
    ssh_handshake_attempts: z.number().int().optional(),
    /** Accepted for compatibility. */
    ssh_pty: z.boolean().optional(),
    /** Wait this long after connecting, then connect again (Go duration). */
    pause_before_connecting: goDuration.optional(),
  })
  .superRefine((c, issue) => {
    if (c.communicator === 'none') return;
    if (!c.ssh_host) {
      issue.addIssue({
        code: 'custom',
        path: ['ssh_host'],
        message: 'a Host must be specified, please reference your communicator documentation',
      });
    }
    if (!c.ssh_username) {
      issue.addIssue({
        code: 'custom',
        path: ['ssh_username'],
        message: 'a Username must be specified, please reference your communicator documentation',
      });
    }
    if (!c.ssh_agent_auth && !c.ssh_password && !c.ssh_private_key_file) {
      issue.addIssue({
        code: 'custom',
        message:
          'one authentication method must be specified, please reference your communicator documentation',
      });
    }
    if (
      (c.ssh_agent_auth && (c.ssh_password || c.ssh_private_key_file)) ||
      (c.ssh_password && c.ssh_private_key_file)
    ) {
      issue.addIssue({
        code: 'custom',
        message:
          'only one of ssh_agent_auth, ssh_password, and ssh_private_key_file must be specified',
      });
    }
  });

export type NullConfig = z.infer<typeof nullConfigSchema>;
