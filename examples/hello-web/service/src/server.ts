// hello-web's entry point (/usr/lib/hello-web/server.js): config → listen → stop on SIGTERM.
// Exit codes: 0 clean stop, 1 could not listen or had to cut connections, 2 bad config
// (the unit sets RestartPreventExitStatus=2 so systemd does not loop on it).
import { createHelloServer } from './app';
import { ConfigError, DEFAULT_CONFIG_PATH, loadConfig } from './config';

/** How long in-flight requests get after SIGTERM; well under systemd's 90 s stop timeout. */
const STOP_GRACE_MS = 10_000;

function log(line: string): void {
  process.stdout.write(`hello-web: ${line}\n`);
}

function fail(line: string, code: number): never {
  process.stderr.write(`hello-web: error: ${line}\n`);
  process.exit(code);
}

function main(): void {
  const configPath = process.env.HELLO_WEB_CONFIG || DEFAULT_CONFIG_PATH;
  let config: ReturnType<typeof loadConfig>;
  try {
    config = loadConfig(configPath);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message, 2);
    throw err;
  }

  const { server, shutdown } = createHelloServer(config.port);
  server.on('error', (err: NodeJS.ErrnoException) => {
    const hint =
      err.code === 'EACCES'
        ? ' (ports below 1024 need CAP_NET_BIND_SERVICE)'
        : err.code === 'EADDRINUSE'
          ? ' (another process listens there)'
          : '';
    fail(`cannot listen on port ${config.port}: ${err.message}${hint}`, 1);
  });

  const stop = (signal: NodeJS.Signals): void => {
    log(`${signal} received, stopping (finishing requests in flight)`);
    shutdown(STOP_GRACE_MS).then((clean) => {
      if (clean) {
        log('stopped');
        process.exit(0);
      }
      fail(`connections still open after ${STOP_GRACE_MS} ms were cut`, 1);
    });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);

  // No host: Node listens on :: (IPv4 too) or falls back to 0.0.0.0 where IPv6 is off.
  server.listen(config.port, () => {
    const from = config.defaulted ? 'default, HELLO_WEB_PORT is blank' : 'from config';
    log(
      `listening on port ${config.port} (${from}; config ${configPath}; node ${process.version})`,
    );
  });
}

main();
