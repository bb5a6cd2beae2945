/**
 * The QEMU driver: starts `qemu-system-x86_64` with a QMP socket and a serial log,
 * watches it, and stops it (ACPI power-down, QMP quit, SIGKILL). `kiln run` boots
 * instances with the same `startVm`. Also the few `qemu-img` calls builds need.
 */
import { once } from 'node:events';
import { open, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { execa, type ResultPromise } from 'execa';
import { CancelledError, SystemError, UserError } from '../core/errors.js';
import { run } from '../core/exec.js';
import { buildQemuArgs, type PortForward, type VmSpec } from './args.js';
import { QmpClient } from './qmp.js';

export const QEMU_BINARY = 'qemu-system-x86_64';
export const QEMU_IMG = 'qemu-img';
export const QEMU_INSTALL_HINT = 'apt install qemu-system-x86 qemu-utils';

/** How a QEMU process ended. */
export interface VmExit {
  code: number | null;
  signal: string | null;
  /** QEMU's own stderr (why it refused to start, for example). */
  stderr: string;
}

/** A running VM. */
export interface Vm {
  readonly qmp: QmpClient;
  readonly pid: number;
  /** Host ports of the forwards, by guest port (e.g. `ports[22]`). */
  readonly ports: Record<number, number>;
  readonly serialLog: string;
  readonly args: readonly string[];
  /** Set once QEMU has exited. */
  readonly exit: VmExit | undefined;
  /** Resolves when QEMU exits (never rejects). */
  waitExit(): Promise<VmExit>;
  /** ACPI power button, then waits up to `timeoutMs` for QEMU to exit; true if it did. */
  powerdown(timeoutMs: number): Promise<boolean>;
  /** Stops QEMU now (QMP `quit`, then SIGKILL) and waits for it to be gone. Safe to call twice. */
  kill(): Promise<VmExit>;
  /** The last `n` non-empty lines of the serial console. */
  lastConsoleLines(n: number): Promise<string[]>;
}

export interface StartVmOptions extends Omit<VmSpec, 'forwards'> {
  /** Guest ports to forward from free loopback ports (e.g. [22]). */
  forwardGuestPorts?: number[];
  /** Fixed forwards (e.g. from `kiln run -p 8080:8080`). */
  forwards?: PortForward[];
  signal?: AbortSignal;
  /** Told the pid as soon as QEMU is spawned (to journal it before anything else can fail). */
  onSpawn?(pid: number): void;
  qemuBinary?: string;
}

/**
 * Starts QEMU and connects to its QMP socket. Throws a SystemError naming QEMU's exit
 * status and stderr when it does not come up; never leaves a process behind on failure.
 */
export async function startVm(opts: StartVmOptions): Promise<Vm> {
  // A free port can be taken between our probe and QEMU's bind: try a few times.
  for (let attempt = 1; ; attempt++) {
    const forwards = [...(opts.forwards ?? [])];
    for (const guestPort of opts.forwardGuestPorts ?? [])
      forwards.push({ hostPort: await freePort(), guestPort });
    try {
      return await startOnce(opts, forwards);
    } catch (err) {
      if (
        attempt < 3 &&
        err instanceof SystemError &&
        /hostfwd|host forwarding/i.test(err.details.join(' '))
      )
        continue;
      throw err;
    }
  }
}

async function startOnce(opts: StartVmOptions, forwards: PortForward[]): Promise<Vm> {
  if (opts.signal?.aborted) throw new CancelledError('VM not started: cancelled');
  const args = buildQemuArgs({ ...opts, forwards });
  const binary = opts.qemuBinary ?? QEMU_BINARY;
  let child: ResultPromise;
  try {
    // Its own process group: a terminal's Ctrl-C reaches kiln, whose cleanup stops QEMU in order.
    child = execa(binary, args, {
      detached: true,
      reject: false,
      stdin: 'ignore',
      stdout: 'ignore',
      buffer: { stderr: true },
    });
  } catch (err) {
    throw new UserError(
      'ToolMissing',
      `${binary} could not be started: ${(err as Error).message}`,
      { hint: QEMU_INSTALL_HINT },
    );
  }
  let exit: VmExit | undefined;
  let stderrText = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (d: string) => {
    stderrText = (stderrText + d).slice(-8000);
  });
  const exited: Promise<VmExit> = child.then((r) => {
    exit = {
      code: typeof r.exitCode === 'number' ? r.exitCode : null,
      signal: r.signal ?? null,
      stderr: stderrText || String(r.stderr ?? ''),
    };
    return exit;
  });
  const spawnError = await Promise.race([
    once(child, 'spawn').then(() => undefined),
    once(child, 'error').then(([e]) => e as NodeJS.ErrnoException),
  ]).catch((e: unknown) => e as NodeJS.ErrnoException);
  if (spawnError || child.pid === undefined) {
    await exited;
    if (spawnError?.code === 'ENOENT') {
      throw new UserError('ToolMissing', `${binary} is not installed (or not on PATH)`, {
        hint: QEMU_INSTALL_HINT,
      });
    }
    throw new SystemError(
      'QemuStartFailed',
      `${binary} could not be started: ${spawnError?.message ?? 'no pid'}`,
    );
  }
  const pid = child.pid;
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
      timeoutMs: 15_000,
    });
  } catch (err) {
    // Give QEMU a moment to finish dying so its reason is in stderr.
    await Promise.race([exited, new Promise((r) => setTimeout(r, 500))]);
    const e = exit as VmExit | undefined;
    await killNow();
    if (err instanceof CancelledError) throw err;
    throw new SystemError(
      'QemuStartFailed',
      e ? `QEMU exited at start (${describeExit(e)})` : `QEMU did not answer on its QMP socket`,
      {
        details: tailLines(e?.stderr ?? stderrText, 10),
        hint: e ? undefined : 'is the machine overloaded?',
        cause: err,
      },
    );
  }

  const ports: Record<number, number> = {};
  for (const f of forwards) ports[f.guestPort] = f.hostPort;

  const vm: Vm = {
    qmp,
    pid,
    ports,
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
      const t = await Promise.race([exited.then(() => true), sleep(timeoutMs).then(() => false)]);
      return t;
    },
    async kill(): Promise<VmExit> {
      if (exit) return exit;
      try {
        // `quit` lets QEMU flush its block devices; SIGKILL if it does not go quickly.
        await Promise.race([qmp.execute('quit'), sleep(1000)]);
      } catch {
        // The socket may already be closed.
      }
      const gone = await Promise.race([exited.then(() => true), sleep(3000).then(() => false)]);
      if (!gone) await killNow();
      qmp.close();
      return exited;
    },
    lastConsoleLines: (n: number) => lastLines(opts.serialLog, n),
  };
  exited.then(() => qmp.close());
  return vm;
}

/** `exit status 1`, `killed by SIGKILL`. */
export function describeExit(e: VmExit): string {
  if (e.signal) return `killed by ${e.signal}`;
  return `exit status ${e.code}`;
}

/** The last `n` non-empty lines of a (possibly large) log file, without ANSI colours. */
export async function lastLines(file: string, n: number): Promise<string[]> {
  try {
    const st = await stat(file);
    const len = Math.min(st.size, 64 * 1024);
    const fh = await open(file, 'r');
    try {
      const buf = Buffer.alloc(len);
      await fh.read(buf, 0, len, st.size - len);
      return tailLines(buf.toString('utf8'), n);
    } finally {
      await fh.close();
    }
  } catch {
    return [];
  }
}

function tailLines(text: string, n: number): string[] {
  return text
    .replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
    .split(/\r?\n|\r/)
    .map((l) => l.trimEnd())
    .filter((l) => l.trim() !== '')
    .slice(-n);
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

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

/** What `qemu-img info` says about an image. */
export interface ImageInfo {
  format: string;
  virtualSize: number;
  actualSize: number;
  backingFile?: string;
  backingFormat?: string;
}

/** Reads an image's format, sizes and backing file. */
export async function imageInfo(file: string, signal?: AbortSignal): Promise<ImageInfo> {
  const r = await run(QEMU_IMG, ['info', '--output=json', '-U', file], {
    signal,
    installHint: QEMU_INSTALL_HINT,
  });
  const j = JSON.parse(r.stdout) as Record<string, unknown>;
  return {
    format: String(j.format),
    virtualSize: Number(j['virtual-size']),
    actualSize: Number(j['actual-size'] ?? 0),
    backingFile: j['backing-filename'] as string | undefined,
    backingFormat: j['backing-filename-format'] as string | undefined,
  };
}

/**
 * Creates a qcow2 overlay on `base`, always naming the backing format (`-F`): qemu-img
 * ≥ 6.1 refuses a backing file without it. `sizeBytes` grows the virtual disk.
 */
export async function createOverlay(
  base: string,
  baseFormat: string,
  out: string,
  sizeBytes?: number,
  signal?: AbortSignal,
): Promise<void> {
  const args = ['create', '-q', '-f', 'qcow2', '-b', base, '-F', baseFormat, out];
  if (sizeBytes) args.push(String(sizeBytes));
  await run(QEMU_IMG, args, { signal, installHint: QEMU_INSTALL_HINT });
}

/** Converts (and flattens) an image to `format`. */
export async function convertImage(
  src: string,
  out: string,
  format: string,
  signal?: AbortSignal,
  srcFormat?: string,
): Promise<void> {
  const args = ['convert', '-q', ...(srcFormat ? ['-f', srcFormat] : []), '-O', format, src, out];
  await run(QEMU_IMG, args, { signal, installHint: QEMU_INSTALL_HINT });
}

/** True when the file starts with the qcow2 magic. */
export async function isQcow2(file: string): Promise<boolean> {
  try {
    const fh = await open(file, 'r');
    try {
      const head = Buffer.alloc(4);
      await fh.read(head, 0, 4, 0);
      return head.toString('binary') === 'QFI\xfb';
    } finally {
      await fh.close();
    }
  } catch {
    return false;
  }
}
