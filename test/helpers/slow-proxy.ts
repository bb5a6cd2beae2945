/**
 * A TCP proxy that passes requests at once and answers slowly: the server's bytes reach the
 * client at a fixed rate, so a download is still under way when a test interrupts it. It
 * counts what it relayed per connection, so the test knows a large response has started.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface SlowProxy {
  /** `127.0.0.1:PORT` */
  address: string;
  /** The most bytes relayed to a client on one connection so far. */
  largestResponse(): number;
  close(): Promise<void>;
}

/** Starts a proxy to `127.0.0.1:targetPort` relaying answers at `bytesPerSecond`. */
export async function startSlowProxy(
  targetPort: number,
  bytesPerSecond: number,
): Promise<SlowProxy> {
  const sockets = new Set<Socket>();
  let largest = 0;
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    let relayed = 0;
    const queue: Buffer[] = [];
    const tick = 50;
    const perTick = Math.max(1, Math.floor((bytesPerSecond * tick) / 1000));
    const timer = setInterval(() => {
      let budget = perTick;
      while (budget > 0 && queue.length > 0) {
        const head = queue[0]!;
        const part = head.subarray(0, budget);
        if (part.length === head.length) queue.shift();
        else queue[0] = head.subarray(budget);
        budget -= part.length;
        relayed += part.length;
        largest = Math.max(largest, relayed);
        if (!client.destroyed) client.write(part);
      }
      // Backpressure: read from the server only while little is waiting.
      const waiting = queue.reduce((n, b) => n + b.length, 0);
      if (waiting < perTick * 4) upstream.resume();
      if (waiting === 0 && upstream.readableEnded) client.end();
    }, tick);
    upstream.on('data', (d: Buffer) => {
      queue.push(d);
      upstream.pause();
    });
    client.on('data', (d: Buffer) => upstream.write(d));
    const done = () => {
      clearInterval(timer);
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', done);
    client.on('close', done);
    upstream.on('error', done);
    upstream.on('close', () => {
      if (queue.length === 0) done();
    });
  });
  const port = await new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : 0);
    }),
  );
  return {
    address: `127.0.0.1:${port}`,
    largestResponse: () => largest,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
