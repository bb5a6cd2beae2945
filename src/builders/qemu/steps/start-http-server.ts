/**
 * The build's HTTP server for `http_directory` or `http_content`, on `http_bind_address`
 * at a free port of `http_port_min`–`http_port_max`; the guest reaches it at QEMU's
 * user-network host address (`{{ .HTTPIP }}` = 10.0.2.2, `{{ .HTTPPort }}`). It lives in
 * kiln's own process: the cleanup stops it and drops open connections.
 */
import { resolve } from 'node:path';
import type { Step } from '../../../core/steps.js';
import { startHttpServer, USER_NET_HOST_IP } from '../../../qemu/http-server.js';
import type { QemuState } from '../state.js';

export const startHttp: Step<QemuState> = {
  name: 'start-http-server',
  async run(state, { ui, signal }) {
    const c = state.config;
    if (c.http_directory === undefined && c.http_content === undefined) return;
    const server = await startHttpServer({
      ...(c.http_directory !== undefined ? { directory: resolve(c.http_directory) } : {}),
      ...(c.http_content !== undefined ? { content: c.http_content } : {}),
      ...(c.http_bind_address !== undefined ? { bindAddress: c.http_bind_address } : {}),
      ...(c.http_port_min !== undefined ? { portMin: c.http_port_min } : {}),
      ...(c.http_port_max !== undefined ? { portMax: c.http_port_max } : {}),
      signal,
      onRequest: (r) => ui.message(`http: ${r.method} ${r.path} → ${r.status} (${r.bytes} bytes)`),
    });
    state.http = server;
    ui.say(`Starting HTTP server on port ${server.port}`);
    Object.assign(state.ctx.generated, {
      PackerHTTPIP: USER_NET_HOST_IP,
      PackerHTTPPort: String(server.port),
      PackerHTTPAddr: `${USER_NET_HOST_IP}:${server.port}`,
    });
  },
  async cleanup(state) {
    await state.http?.close();
    state.http = undefined;
  },
  owes(state) {
    return state.http ? `stop the HTTP server on port ${state.http.port}` : undefined;
  },
};
