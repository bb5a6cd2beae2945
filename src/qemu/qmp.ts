/**
 * A client for QMP, QEMU's JSON control protocol over a unix socket: the greeting,
 * capabilities negotiation, commands matched to their answers by id, and asynchronous
 * events (SHUTDOWN, POWERDOWN, RESET…). kiln drives QEMU through this, never by
 * scraping its output.
 */
import { EventEmitter } from 'node:events';
import { createConnection, type Socket } from 'node:net';
import { CancelledError, SystemError } from '../lib/errors.js';
import { sleep } from '../lib/sleep.js';

/** An asynchronous QMP event, e.g. `{event: 'SHUTDOWN', data: {guest: true, reason: 'guest-shutdown'}}`. */
export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

interface Pending {
  resolve(value: unknown): void;
  reject(err: Error): void;
  command: string;
}

/** One QMP connection. Create it with `QmpClient.connect`. */
export class QmpClient extends EventEmitter<{ event: [QmpEvent]; close: [] }> {
  private buf = '';
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private closed = false;
  /** QEMU's version as the greeting announced it (`7.2.22`). */
  version = '';

  private constructor(private readonly sock: Socket) {
    super();
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => this.onData(chunk));
    sock.on('close', () => this.onClose());
    sock.on('error', () => {
      // 'close' follows and rejects what is pending.
    });
  }

  /**
   * Connects to the socket (retrying while QEMU creates it), reads the greeting and
   * negotiates capabilities. Gives up after `timeoutMs`, on abort, or when `isAlive`
   * returns false (QEMU already exited).
   */
  static async connect(
    path: string,
    opts: { timeoutMs?: number; signal?: AbortSignal; isAlive?: () => boolean } = {},
  ): Promise<QmpClient> {
    const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
    let lastErr: unknown;
    for (;;) {
      if (opts.signal?.aborted) throw new CancelledError('QMP connect cancelled');
      if (opts.isAlive && !opts.isAlive()) {
        throw new SystemError('QmpConnectFailed', 'QEMU exited before its QMP socket answered');
      }
      try {
        const sock = await openSocket(path);
        const client = new QmpClient(sock);
        const greeting = (await client.nextMessage(5000)) as {
          QMP?: { version?: { qemu?: Record<string, number> } };
        };
        const v = greeting.QMP?.version?.qemu;
        if (v) client.version = `${v.major}.${v.minor}.${v.micro}`;
        await client.execute('qmp_capabilities');
        return client;
      } catch (err) {
        lastErr = err;
      }
      if (Date.now() > deadline) {
        throw new SystemError(
          'QmpConnectFailed',
          `could not connect to QEMU's QMP socket ${path}`,
          {
            details: [String((lastErr as Error)?.message ?? lastErr)],
            cause: lastErr,
          },
        );
      }
      await sleep(50);
    }
  }

  /** Sends a command and resolves with its `return` value; rejects with QEMU's error class and text. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    if (this.closed)
      return Promise.reject(
        new SystemError('QmpClosed', `QMP connection closed (sending ${command})`),
      );
    const id = `k${this.nextId++}`;
    const msg = JSON.stringify(
      args ? { execute: command, arguments: args, id } : { execute: command, id },
    );
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, command });
      this.sock.write(`${msg}\n`);
    });
  }

  /** Resolves with the next event named `name` (or one of `names`), or undefined when the connection closes first. */
  waitEvent(names: string | string[], signal?: AbortSignal): Promise<QmpEvent | undefined> {
    const wanted = new Set(Array.isArray(names) ? names : [names]);
    return new Promise((resolve) => {
      const onEvent = (e: QmpEvent) => {
        if (wanted.has(e.event)) done(e);
      };
      const onClose = () => done(undefined);
      const done = (e: QmpEvent | undefined) => {
        this.off('event', onEvent);
        this.off('close', onClose);
        signal?.removeEventListener('abort', onAbort);
        resolve(e);
      };
      const onAbort = () => done(undefined);
      if (this.closed) return resolve(undefined);
      this.on('event', onEvent);
      this.on('close', onClose);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Closes the connection (QEMU keeps running). */
  close(): void {
    this.sock.destroy();
  }

  // The greeting arrives before any command, so it is read as the first raw message.
  private greetingWaiter: ((msg: unknown) => void) | undefined;
  private gotGreeting = false;

  private nextMessage(timeoutMs: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.sock.destroy();
        reject(new Error('no QMP greeting'));
      }, timeoutMs);
      this.greetingWaiter = (m) => {
        clearTimeout(t);
        resolve(m);
      };
      this.once('close', () => {
        clearTimeout(t);
        reject(new Error('QMP socket closed before the greeting'));
      });
    });
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    let i = this.buf.indexOf('\n');
    while (i >= 0) {
      const line = this.buf.slice(0, i).trim();
      this.buf = this.buf.slice(i + 1);
      if (line) this.onMessage(line);
      i = this.buf.indexOf('\n');
    }
  }

  private onMessage(line: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    if (!this.gotGreeting && 'QMP' in msg) {
      this.gotGreeting = true;
      this.greetingWaiter?.(msg);
      return;
    }
    if (typeof msg.event === 'string') {
      this.emit('event', msg as unknown as QmpEvent);
      return;
    }
    const id = typeof msg.id === 'string' ? msg.id : undefined;
    const p = id ? this.pending.get(id) : undefined;
    if (!p || !id) return;
    this.pending.delete(id);
    if ('error' in msg) {
      const e = msg.error as { class?: string; desc?: string };
      p.reject(
        new SystemError(
          'QmpError',
          `QMP ${p.command} failed: ${e.class ?? 'Error'}: ${e.desc ?? ''}`,
        ),
      );
    } else {
      p.resolve(msg.return);
    }
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const [, p] of this.pending) {
      p.reject(new SystemError('QmpClosed', `QMP connection closed before ${p.command} answered`));
    }
    this.pending.clear();
    this.emit('close');
  }
}

function openSocket(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = createConnection(path);
    sock.once('connect', () => {
      sock.off('error', reject);
      resolve(sock);
    });
    sock.once('error', reject);
  });
}
