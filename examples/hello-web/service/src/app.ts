// The HTTP side of hello-web: three answers and a graceful stop.
import http from 'node:http';

/** A running hello-web HTTP server and the way to stop it gracefully. */
export interface HelloServer {
  server: http.Server;
  /**
   * Stops accepting connections, lets requests already in flight finish, closes idle
   * keep-alive connections, and resolves true once every connection is gone — or false
   * if it had to cut connections after graceMs.
   */
  shutdown(graceMs: number): Promise<boolean>;
}

/**
 * Creates (does not start) the server: `GET /` answers "Hello world on port N\n",
 * `GET /healthz` answers "ok\n", both 200 text/plain; anything else is 404. HEAD is
 * answered like GET, without a body.
 */
export function createHelloServer(port: number): HelloServer {
  let stopping = false;
  const server = http.createServer((req, res) => {
    // Once stopping, tell keep-alive clients to go away so their sockets close after this answer.
    if (stopping) res.setHeader('Connection', 'close');
    const path = (req.url ?? '/').split('?')[0];
    const readOnly = req.method === 'GET' || req.method === 'HEAD';
    if (readOnly && path === '/') return reply(res, 200, `Hello world on port ${port}\n`);
    if (readOnly && path === '/healthz') return reply(res, 200, 'ok\n');
    return reply(res, 404, 'not found\n');
  });

  let stopped: Promise<boolean> | undefined;
  const shutdown = (graceMs: number): Promise<boolean> => {
    stopped ??= new Promise((resolve) => {
      stopping = true;
      const timer = setTimeout(() => {
        server.closeAllConnections();
        resolve(false);
      }, graceMs);
      server.close(() => {
        clearTimeout(timer);
        resolve(true);
      });
      // Node 18 (Debian 12) does not drop idle keep-alive sockets on close(); Node 19+ does.
      server.closeIdleConnections();
    });
    return stopped;
  };
  return { server, shutdown };
}

function reply(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, {
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}
