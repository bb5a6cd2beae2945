/**
 * A TCP proxy that relays at a fixed rate, so an upload or a download is still under way
 * when a test interrupts it. Answers are slowed, and requests too when asked; the rate can
 * be lifted later (a retry through the same address). It counts what it relayed per
 * connection and direction, so the test knows a large body has started.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface SlowProxy {
  /** `127.0.0.1:PORT` */
  address: string;
  /** Bytes per second each way it slows; Infinity relays at once. */
  rate: number;
  /** The most bytes relayed to a client on one connection so far. */
  largestResponse(): number;
  /** The most bytes relayed to the server on one connection so far. */
  largestRequest(): number;
  close(): Promise<void>;
}

/** Relays `from` → `to` at the proxy's rate; returns a stop function. */
function throttle(
  from: Socket,
  to: Socket,
  proxy: { rate: number },
  slowed: boolean,
  onRelay: (total: number) => void,
): () => void {
  const tick = 50;
  const queue: Buffer[] = [];
  let relayed = 0;
  const send = (b: Buffer) => {
    relayed += b.length;
    onRelay(relayed);
    if (!to.destroyed) to.write(b);
  };
  const timer = setInterval(() => {
    const fast = !slowed || !Number.isFinite(proxy.rate);
    let budget = fast ? Number.POSITIVE_INFINITY : Math.max(1, (proxy.rate * tick) / 1000);
    while (budget > 0 && queue.length > 0) {
      const head = queue[0]!;
      const n = Math.min(head.length, budget);
      send(head.subarray(0, n));
      if (n === head.length) queue.shift();
      else queue[0] = head.subarray(n);
      budget -= n;
    }
    // Backpressure: read on only while little is waiting.
    if (queue.length === 0) from.resume();
    if (queue.length === 0 && from.readableEnded && !to.destroyed) to.end();
  }, tick);
  from.on('data', (d: Buffer) => {
    queue.push(d);
    from.pause();
  });
  return () => clearInterval(timer);
}

/** Starts a proxy to `127.0.0.1:targetPort` relaying at `bytesPerSecond` (requests too with `slowRequests`). */
export async function startSlowProxy(
  targetPort: number,
  bytesPerSecond: number,
  opts: { slowRequests?: boolean } = {},
): Promise<SlowProxy> {
  const sockets = new Set<Socket>();
  let largestDown = 0;
  let largestUp = 0;
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    const stops = [
      throttle(upstream, client, proxy, true, (n) => {
        largestDown = Math.max(largestDown, n);
      }),
      throttle(client, upstream, proxy, opts.slowRequests === true, (n) => {
        largestUp = Math.max(largestUp, n);
      }),
    ];
    const done = () => {
      for (const stop of stops) stop();
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', done);
    upstream.on('error', done);
    client.on('close', done);
    upstream.on('close', () => setTimeout(done, 2000));
  });
  const port = await new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : 0);
    }),
  );
  const proxy: SlowProxy = {
    address: `127.0.0.1:${port}`,
    rate: bytesPerSecond,
    largestResponse: () => largestDown,
    largestRequest: () => largestUp,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
  return proxy;
}
