/**
 * How provisioners reach a machine. The SSH and chroot implementations live beside this
 * file; a builder with no machine (null without a host) gives provisioners none.
 */
export interface ExecRequest {
  command: string;
  /** Lines of the remote stdout/stderr as they arrive. */
  onStdout?: (line: string) => void;
  onStderr?: (line: string) => void;
  stdin?: string | Buffer;
  signal?: AbortSignal;
  /** The command may drop the connection (a reboot): resolve with `disconnected` instead of throwing. */
  expectDisconnect?: boolean;
}

/** What a finished command left: its exit status, or that the connection dropped (only with `expectDisconnect`). */
export interface ExecResult {
  exitCode: number;
  signal?: string;
  disconnected?: boolean;
}

export interface Communicator {
  /** Runs a shell command on the machine; resolves with its exit status (never throws on non-zero). */
  exec(req: ExecRequest): Promise<ExecResult>;
  /** Uploads a local file, or a Buffer, to a remote path (mode preserved when from a file). */
  upload(
    source: string | Buffer,
    remotePath: string,
    opts?: { mode?: number; signal?: AbortSignal },
  ): Promise<void>;
  /** Uploads a directory tree; `src` with a trailing slash uploads its contents (rsync/Packer rule). */
  uploadDir(src: string, remoteDir: string, opts?: { signal?: AbortSignal }): Promise<void>;
  download(remotePath: string, localPath: string, opts?: { signal?: AbortSignal }): Promise<void>;
  downloadDir(remoteDir: string, localDir: string, opts?: { signal?: AbortSignal }): Promise<void>;
  /** Where the machine is, for tools that connect on their own (ansible-playbook). */
  readonly connection: ConnectionInfo;
  close(): Promise<void>;
}

/** How tools that connect on their own reach the machine: over SSH, or into a chroot on this host. */
export type ConnectionInfo = SshConnectionInfo | ChrootConnectionInfo;

/** A machine reached over SSH with the build's key. */
export interface SshConnectionInfo {
  type: 'ssh';
  host: string;
  port: number;
  user: string;
  /** Path to the private key file (0600, inside a 0700 temp dir). */
  privateKeyFile: string;
  /** A known_hosts file holding the machine's host key as the build saw it. */
  knownHostsFile?: string;
}

/** A mounted image's root on this host, entered with chroot(8) as root. */
export interface ChrootConnectionInfo {
  type: 'chroot';
  /** The directory the image's root file system is mounted at. */
  root: string;
  /** The user commands run as (always root: chroot(8) needs it). */
  user: 'root';
}
