/**
 * An OpenSSH control master opened by kiln at the ControlPath ansible-playbook's ssh will
 * use, started at the same time as ansible-playbook: the SSH handshake with the guest
 * (≈0.8 s on a TCG guest, more under load) then overlaps Ansible's own start-up (≈1 s)
 * instead of following it inside the first task that touches the host.
 *
 * If ansible's first ssh comes before the master is up, that ssh becomes the master
 * itself (ControlMaster=auto) and kiln's connection only finds the socket taken: it then
 * stays a plain idle connection until stopped. Either way the playbook works.
 */
import { run } from '../lib/exec.js';

/** Where and how to connect; the same values kiln writes into the inventory. */
export interface MasterTarget {
  host: string;
  port: number;
  user: string;
  privateKeyFile: string;
  knownHostsFile?: string;
  /** ssh's ControlPath, may hold `%C`. */
  controlPath: string;
}

/** The ssh command line of the master (foreground, no command, no stdin). */
export function masterArgs(t: MasterTarget): string[] {
  return [
    '-N',
    '-n',
    '-o',
    'ControlMaster=yes',
    '-o',
    `ControlPath=${t.controlPath}`,
    '-o',
    'ControlPersist=no',
    '-o',
    'BatchMode=yes',
    '-o',
    'ConnectTimeout=10',
    '-o',
    'IdentitiesOnly=yes',
    '-i',
    t.privateKeyFile,
    ...(t.knownHostsFile
      ? [
          '-o',
          `UserKnownHostsFile=${t.knownHostsFile}`,
          '-o',
          'GlobalKnownHostsFile=/dev/null',
          '-o',
          'StrictHostKeyChecking=yes',
        ]
      : []),
    '-p',
    String(t.port),
    '-l',
    t.user,
    t.host,
  ];
}

/** A started master: `stop()` ends it (and waits), whatever state it reached. */
export interface ControlMaster {
  stop(): Promise<void>;
}

/**
 * Starts the master in the background and returns at once; never throws (a master that
 * cannot connect only means ansible's ssh connects by itself, as without kiln's help).
 */
export function startControlMaster(t: MasterTarget, signal: AbortSignal): ControlMaster {
  const ac = new AbortController();
  const onAbort = (): void => ac.abort();
  signal.addEventListener('abort', onAbort, { once: true });
  const done = run('ssh', masterArgs(t), {
    signal: ac.signal,
    reject: false,
    killGraceMs: 2000,
  }).catch(() => undefined);
  return {
    async stop() {
      // `-O exit` asks the master on that socket to end (whichever ssh became master);
      // the abort ends kiln's ssh if it never became one.
      await run(
        'ssh',
        [
          '-o',
          `ControlPath=${t.controlPath}`,
          '-p',
          String(t.port),
          '-l',
          t.user,
          '-O',
          'exit',
          t.host,
        ],
        { reject: false, timeoutMs: 5000 },
      ).catch(() => undefined);
      ac.abort();
      await done;
      signal.removeEventListener('abort', onAbort);
    },
  };
}
