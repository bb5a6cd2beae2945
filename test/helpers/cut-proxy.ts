/**
 * A TCP proxy that cuts the connection once a set number of bytes has gone from the client
 * to the server: a network failure in the middle of a request body, which an AbortSignal
 * inside the client cannot stage at a precise point.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface CutProxy {
  /** `127.0.0.1:PORT` */
  address: string;
  /** Cut the next connection that has sent `bytes` upstream (once); undefined = pass everything. */
  cutAfter: number | undefined;
  /** How many connections were cut so far. */
  cuts: number;
  close(): Promise<void>;
}

/** Starts a proxy to `127.0.0.1:targetPort`. */
export async function startCutProxy(targetPort: number): Promise<CutProxy> {
  const sockets = new Set<Socket>();
  const proxy: CutProxy = {
    address: '',
    cutAfter: undefined,
    cuts: 0,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    let sent = 0;
    client.on('data', (d: Buffer) => {
      sent += d.length;
      if (proxy.cutAfter !== undefined && sent >= proxy.cutAfter) {
        proxy.cutAfter = undefined;
        proxy.cuts++;
        client.destroy();
        upstream.destroy();
        return;
      }
      upstream.write(d);
    });
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('close', end);
    upstream.on('close', end);
    client.on('error', end);
    upstream.on('error', end);
  });
  const port = await new Promise<number>((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const a = server.address();
      resolve(typeof a === 'object' && a ? a.port : 0);
    }),
  );
  proxy.address = `127.0.0.1:${port}`;
  return proxy;
}
