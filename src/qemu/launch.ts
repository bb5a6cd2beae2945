/**
 * The one QEMU launcher, for builds, `kiln run` and anything else that boots a VM: starts
 * `qemu-system-x86_64` with a QMP socket and a serial log, either attached (a build's VM,
 * which kiln stops before it exits) or detached (an instance that outlives kiln), forwards
 * loopback ports (picking free ones, and trying again when one was taken meanwhile), and
 * waits until QMP answers. A VM that does not come up leaves no process behind.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync } from 'node:fs';
import { createServer } from 'node:net';
import { CancelledError, SystemError, UserError } from '../lib/errors.js';
import { sleep } from '../lib/sleep.js';
import { buildQemuArgs, type PortForward, type VmSpec } from './args.js';
import { lastLines, tailLines } from './console.js';
import { QEMU_INSTALL_HINT } from './img.js';
import { QmpClient } from './qmp.js';

export const QEMU_BINARY = 'qemu-system-x86_64';

/** How a QEMU process ended. */
export interface VmExit {
  code: number | null;
  signal: string | null;
  /** QEMU's own stderr (why it refused to start, for example); empty for a detached VM (see its log). */
  stderr: string;
}

/** A running VM. */
export interface Vm {
  readonly qmp: QmpClient;
  readonly pid: number;
  /** Host ports of the forwards, by guest port (e.g. `ports[22]`). */
  readonly ports: Record<number, number>;
  /** The forwards as QEMU got them (picked host ports filled in), in order. */
  readonly forwards: readonly PortForward[];
  readonly serialLog: string;
  readonly args: readonly string[];
  /** Set once QEMU has exited (known only while this process lives). */
  readonly exit: VmExit | undefined;
  /** Resolves when QEMU exits (never rejects). */
  waitExit(): Promise<VmExit>;
  /** ACPI power button, then waits up to `timeoutMs` for QEMU to exit; true if it did. */
  powerdown(timeoutMs: number): Promise<boolean>;
  /** Stops QEMU now (QMP `quit`, then SIGKILL) and waits for it to be gone. Safe to call twice. */
  kill(): Promise<VmExit>;
  /** Lets go of a detached VM: closes the QMP connection so that kiln can exit while QEMU runs on. */
  release(): void;
  /** The last `n` non-empty lines of the serial console. */
  lastConsoleLines(n: number): Promise<string[]>;
}

export interface StartVmOptions extends Omit<VmSpec, 'forwards'> {
  /** Guest ports to forward from free loopback ports (e.g. [22]). */
  forwardGuestPorts?: number[];
  /** Forwards by host port (e.g. from `kiln run -p 8080:80`); a host port of 0 picks a free one. */
  forwards?: PortForward[];
  signal?: AbortSignal;
  /** Told the pid as soon as QEMU is spawned (to journal it before anything else can fail). */
  onSpawn?(pid: number): void;
  /** Told when a spawned QEMU is gone again because it did not come up (a journal can forget it). */
  onGone?(pid: number): void;
  qemuBinary?: string;
  /**
   * Detached: QEMU runs in its own session and outlives kiln, its stdout and stderr
   * appended to this file (a pipe would break once kiln exits).
   */
  detachedLog?: string;
  /** How long QEMU may take to answer on QMP (default 15 s). */
  qmpTimeoutMs?: number;
}

/** QEMU exited while starting: its exit and the last lines it printed. */
export class QemuStartError extends SystemError {
  constructor(
    readonly exit: VmExit,
    readonly qemuLines: string[],
    cause: unknown,
  ) {
    super('QemuStartFailed', `QEMU exited at start (${describeExit(exit)})`, {
      details: qemuLines,
      cause,
    });
  }
}

/** QEMU's words when a forwarded host port could not be bound. */
const HOSTFWD_FAILED = /hostfwd|host ?forward/i;

/** Exits of the QEMU processes this kiln process started, by pid. */
const exits = new Map<number, VmExit>();

/**
 * Starts QEMU and connects to its QMP socket. Throws QemuStartError (QEMU's exit status and
 * last lines) when it exits while starting, a SystemError when it does not answer, a
 * UserError when the binary is missing; never leaves a process behind on failure.
 */
export async function startVm(opts: StartVmOptions): Promise<Vm> {
  // A picked port can be taken between our probe and QEMU's bind: try again with others.
  for (let attempt = 1; ; attempt++) {
    let picked = false;
    const forwards: PortForward[] = [];
    for (const f of opts.forwards ?? []) {
      if (f.hostPort === 0) picked = true;
      forwards.push({
        hostPort: f.hostPort === 0 ? await freePort() : f.hostPort,
        guestPort: f.guestPort,
      });
    }
    for (const guestPort of opts.forwardGuestPorts ?? []) {
      picked = true;
      forwards.push({ hostPort: await freePort(), guestPort });
    }
    try {
      return await startOnce(opts, forwards);
    } catch (err) {
      if (
        attempt < 3 &&
        picked &&
        err instanceof QemuStartError &&
        err.qemuLines.some((l) => HOSTFWD_FAILED.test(l))
      )
        continue;
      throw err;
    }
  }
}

/** Spawns QEMU in its own process group: a terminal's Ctrl-C reaches kiln, whose cleanup stops QEMU in order. */
async function spawnQemu(
  binary: string,
  args: readonly string[],
  detachedLog: string | undefined,
): Promise<ChildProcess & { pid: number }> {
  const fd = detachedLog === undefined ? undefined : openSync(detachedLog, 'a', 0o600);
  try {
    let child: ChildProcess;
    try {
      child = spawn(binary, args, {
        detached: true,
        stdio: fd === undefined ? ['ignore', 'ignore', 'pipe'] : ['ignore', fd, fd],
      });
    } catch (err) {
      throw new UserError(
        'ToolMissing',
        `${binary} could not be started: ${(err as Error).message}`,
        { hint: QEMU_INSTALL_HINT },
      );
    }
    const spawnError = await Promise.race([
      once(child, 'spawn').then(() => undefined),
      once(child, 'error').then(([e]) => e as NodeJS.ErrnoException),
    ]).catch((e: unknown) => e as NodeJS.ErrnoException);
    if (spawnError?.code === 'ENOENT') {
      throw new UserError('ToolMissing', `${binary} is not installed (or not on PATH)`, {
        hint: QEMU_INSTALL_HINT,
      });
    }
    if (spawnError || child.pid === undefined) {
      throw new SystemError(
        'QemuStartFailed',
        `${binary} could not be started: ${spawnError?.message ?? 'no pid'}`,
      );
    }
    // A later error (a failed kill) must not crash kiln: the exit is what counts.
    child.on('error', () => undefined);
    return child as ChildProcess & { pid: number };
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

async function startOnce(opts: StartVmOptions, forwards: PortForward[]): Promise<Vm> {
  if (opts.signal?.aborted) throw new CancelledError('VM not started: cancelled');
  const args = buildQemuArgs({ ...opts, forwards });
  const child = await spawnQemu(opts.qemuBinary ?? QEMU_BINARY, args, opts.detachedLog);
  const pid = child.pid;
  let exit: VmExit | undefined;
  let stderrText = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => {
    stderrText = (stderrText + d).slice(-8000);
  });
  const exited = new Promise<VmExit>((resolve) => {
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => {
      exit = { code, signal, stderr: stderrText };
      exits.set(pid, exit);
      resolve(exit);
    });
  });
  // A detached QEMU must not keep kiln's event loop alive once its QMP connection is released.
  if (opts.detachedLog !== undefined) child.unref();
  opts.onSpawn?.(pid);

  const killNow = async (): Promise<VmExit> => {
    if (!exit) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
    return exited;
  };

  let qmp: QmpClient;
  try {
    qmp = await QmpClient.connect(opts.qmpSocket, {
      signal: opts.signal,
      isAlive: () => exit === undefined,
      timeoutMs: opts.qmpTimeoutMs ?? 15_000,
    });
  } catch (err) {
    // Give QEMU a moment to finish dying so its reason is in its output.
    await Promise.race([exited, sleep(1000, undefined, { unref: true })]);
    const e = exit as VmExit | undefined;
    await killNow();
    opts.onGone?.(pid);
    if (err instanceof CancelledError) throw err;
    const qemuLines =
      opts.detachedLog === undefined
        ? tailLines(stderrText, 10)
        : await lastLines(opts.detachedLog, 10);
    if (e) throw new QemuStartError(e, qemuLines, err);
    throw new SystemError('QemuStartFailed', 'QEMU did not answer on its QMP socket', {
      details: qemuLines,
      hint: 'is the machine overloaded?',
      cause: err,
    });
  }

  const ports: Record<number, number> = {};
  for (const f of forwards) ports[f.guestPort] = f.hostPort;

  const vm: Vm = {
    qmp,
    pid,
    ports,
    forwards,
    serialLog: opts.serialLog,
    args,
    get exit() {
      return exit;
    },
    waitExit: () => exited,
    async powerdown(timeoutMs: number): Promise<boolean> {
      if (exit) return true;
      try {
        await qmp.execute('system_powerdown');
      } catch {
        return exit !== undefined;
      }
      const t = await Promise.race([
        exited.then(() => true),
        sleep(timeoutMs, undefined, { unref: true }).then(() => false),
      ]);
      return t;
    },
    async kill(): Promise<VmExit> {
      if (exit) return exit;
      try {
        // `quit` lets QEMU flush its block devices; SIGKILL if it does not go quickly.
        await Promise.race([qmp.execute('quit'), sleep(1000, undefined, { unref: true })]);
      } catch {
        // The socket may already be closed.
      }
      const gone = await Promise.race([
        exited.then(() => true),
        sleep(3000, undefined, { unref: true }).then(() => false),
      ]);
      if (!gone) await killNow();
      qmp.close();
      return exited;
    },
    release: () => qmp.close(),
    lastConsoleLines: (n: number) => lastLines(opts.serialLog, n),
  };
  exited.then(() => qmp.close());
  return vm;
}

/** The exit of a QEMU this process started, once it has ended (undefined while it runs). */
export function knownExit(pid: number): VmExit | undefined {
  return exits.get(pid);
}

/** `exit status 1`, `killed by SIGKILL`. */
export function describeExit(e: VmExit): string {
  if (e.signal) return `killed by ${e.signal}`;
  return `exit status ${e.code}`;
}

/** A TCP port free on 127.0.0.1 at the time of asking. */
export async function freePort(): Promise<number> {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const addr = srv.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  await new Promise((r) => srv.close(r));
  return port;
}
