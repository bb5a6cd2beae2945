/**
 * An HTTP proxy in front of moto that adds what moto lacks and nothing more: faults by
 * action name (throttling, eventual-consistency NotFound, DependencyViolation, expired
 * credentials, a response dropped after moto did the work) and — because moto has no
 * instance refresh — a small instance-refresh state machine for Auto Scaling's
 * Start/Describe/Cancel/RollbackInstanceRefresh. Everything else reaches moto unchanged,
 * and every call is recorded for the tests to assert on.
 */
import { randomUUID } from 'node:crypto';
import {
  createServer,
  type IncomingMessage,
  request,
  type Server,
  type ServerResponse,
} from 'node:http';

export interface FaultRule {
  /** An action name (`RunInstances`), or `*` for every action. */
  action: string;
  /** Answer with this AWS error code instead of forwarding… */
  error?: string;
  /** …or forward to moto, then drop the connection instead of answering… */
  drop?: boolean;
  /**
   * …or hold the call until `release()`: `before` forwarding it (moto has not done it; a
   * caller gone by then is never forwarded), or `after` moto did it (the answer waits).
   * `reached` resolves once a call is held: a test reaches that point without timing.
   */
  hold?: 'before' | 'after';
  reached?: Promise<void>;
  release?: () => void;
  /** How many calls it applies to (default 1; Infinity for "from now on"). */
  times?: number;
  /** Only calls whose parameters pass this (e.g. DescribeInstances naming an instance id). */
  match?: (params: URLSearchParams) => boolean;
  /** Active only once this action has been answered successfully at least once. */
  after?: string;
  /** HTTP status for `error` (default: 503 for throttling, else 400). */
  status?: number;
  /** Set by the proxy: how many calls it hit. */
  hits?: number;
}

export interface RecordedCall {
  action: string;
  params: URLSearchParams;
  /** `forwarded`, `error:<code>`, `dropped`, or `refresh` (answered by the refresh state machine). */
  outcome: string;
  status: number;
}

/** What the next instance refresh does. */
export interface RefreshScenario {
  /** `Successful` or `Failed` (with `reason`), after `polls` DescribeInstanceRefreshes. */
  outcome: 'Successful' | 'Failed';
  reason?: string;
  polls?: number;
}

interface Refresh {
  id: string;
  group: string;
  status: string;
  reason?: string;
  percentage: number;
  polls: number;
  scenario: RefreshScenario;
  preferences: Record<string, string>;
  startTime: string;
  endTime?: string;
}

export interface FaultProxy {
  url: string;
  calls: RecordedCall[];
  /** Adds a fault rule; returns it (its `hits` count grows as it fires). */
  inject(rule: FaultRule): FaultRule;
  clear(): void;
  /** Calls of one action that reached moto (or the refresh machine). */
  count(action: string, outcome?: string): number;
  /** Queue what the next refreshes do (default: Successful after 2 polls). */
  refreshScenarios: RefreshScenario[];
  /** Every refresh started, by group. */
  refreshes: Refresh[];
  /** Told of every request before it is answered (test instrumentation, e.g. to learn an imported public key). */
  onRequest?: (action: string, params: URLSearchParams) => void | Promise<void>;
  /** Make StartInstanceRefresh answer InstanceRefreshInProgress for this group (a refresh someone else started). */
  refreshInProgress: Set<string>;
  close(): Promise<void>;
}

const EC2_NS = 'http://ec2.amazonaws.com/doc/2016-11-15/';
const ASG_NS = 'http://autoscaling.amazonaws.com/doc/2011-01-01/';

/** Starts the proxy on 127.0.0.1 (a free port) in front of `target` (moto's URL). */
export async function startFaultProxy(target: string): Promise<FaultProxy> {
  const rules: FaultRule[] = [];
  const calls: RecordedCall[] = [];
  const answered = new Map<string, number>();
  const refreshes: Refresh[] = [];
  const holds = new Map<FaultRule, { reached: () => void; released: Promise<void> }>();
  const proxy: Omit<FaultProxy, 'url' | 'close'> = {
    calls,
    inject(rule) {
      rule.hits = 0;
      if (rule.hold) {
        let reached!: () => void;
        let release!: () => void;
        rule.reached = new Promise<void>((r) => {
          reached = r;
        });
        const released = new Promise<void>((r) => {
          release = r;
        });
        rule.release = release;
        holds.set(rule, { reached, released });
      }
      rules.push(rule);
      return rule;
    },
    clear() {
      for (const r of rules) r.release?.();
      holds.clear();
      rules.length = 0;
      calls.length = 0;
      answered.clear();
      refreshes.length = 0;
      proxy.refreshScenarios.length = 0;
      proxy.refreshInProgress.clear();
      delete proxy.onRequest;
    },
    count(action, outcome) {
      return calls.filter(
        (c) => c.action === action && (outcome === undefined || c.outcome === outcome),
      ).length;
    },
    refreshScenarios: [],
    refreshes,
    refreshInProgress: new Set(),
  };

  const server: Server = createServer(async (req, res) => {
    const body = await readBody(req);
    const params = new URLSearchParams(body.toString('utf8'));
    const action = params.get('Action') ?? '?';
    const isAsg = params.get('Version') === '2011-01-01';
    const record = (outcome: string, status: number) =>
      calls.push({ action, params, outcome, status });
    await proxy.onRequest?.(action, params);

    const rule = rules.find(
      (r) =>
        (r.action === '*' || r.action === action) &&
        (r.hits ?? 0) < (r.times ?? 1) &&
        (r.match === undefined || r.match(params)) &&
        (r.after === undefined || (answered.get(r.after) ?? 0) > 0),
    );
    if (rule?.error) {
      rule.hits = (rule.hits ?? 0) + 1;
      const status = rule.status ?? (/Throttl|LimitExceeded/.test(rule.error) ? 503 : 400);
      record(`error:${rule.error}`, status);
      return sendError(res, status, rule.error, isAsg);
    }

    const hold = rule ? holds.get(rule) : undefined;
    if (rule?.hold && hold) {
      rule.hits = (rule.hits ?? 0) + 1;
      if (rule.hold === 'before') {
        hold.reached();
        await hold.released;
        if (req.socket.destroyed) {
          record('abandoned', 0);
          return;
        }
      }
    }

    if (isAsg && /InstanceRefresh/.test(action)) {
      const answer = refreshAction(action, params);
      record(answer.status === 200 ? 'refresh' : `error:${answer.code}`, answer.status);
      if (answer.status !== 200) return sendError(res, answer.status, answer.code!, true);
      answered.set(action, (answered.get(action) ?? 0) + 1);
      return sendXml(res, 200, answer.xml!);
    }

    try {
      const upstream = await forward(target, req, body);
      if (rule?.hold === 'after' && hold) {
        record('held', upstream.status);
        hold.reached();
        await hold.released;
        if (req.socket.destroyed) return;
        res.writeHead(upstream.status, upstream.headers);
        res.end(upstream.body);
        return;
      }
      if (rule?.drop) {
        rule.hits = (rule.hits ?? 0) + 1;
        record('dropped', upstream.status);
        req.socket.destroy();
        return;
      }
      record('forwarded', upstream.status);
      if (upstream.status < 300) answered.set(action, (answered.get(action) ?? 0) + 1);
      res.writeHead(upstream.status, upstream.headers);
      res.end(upstream.body);
    } catch (err) {
      record('proxy-error', 502);
      res.writeHead(502);
      res.end(String(err));
    }
  });

  function refreshAction(
    action: string,
    params: URLSearchParams,
  ): { status: number; code?: string; xml?: string } {
    const group = params.get('AutoScalingGroupName') ?? '';
    const active = refreshes.find(
      (r) => r.group === group && ['Pending', 'InProgress', 'Cancelling'].includes(r.status),
    );
    if (action === 'StartInstanceRefresh') {
      if (active || proxy.refreshInProgress.has(group))
        return { status: 400, code: 'InstanceRefreshInProgress' };
      const preferences: Record<string, string> = {};
      for (const [k, v] of params)
        if (k.startsWith('Preferences.')) preferences[k.slice('Preferences.'.length)] = v;
      const r: Refresh = {
        id: randomUUID(),
        group,
        status: 'Pending',
        percentage: 0,
        polls: 0,
        scenario: proxy.refreshScenarios.shift() ?? { outcome: 'Successful' },
        preferences,
        startTime: new Date().toISOString(),
      };
      refreshes.push(r);
      return { status: 200, xml: wrap(action, `<InstanceRefreshId>${r.id}</InstanceRefreshId>`) };
    }
    if (action === 'DescribeInstanceRefreshes') {
      const ids = [...params]
        .filter(([k]) => k.startsWith('InstanceRefreshIds.'))
        .map(([, v]) => v);
      const list = refreshes.filter(
        (r) => r.group === group && (ids.length === 0 || ids.includes(r.id)),
      );
      for (const r of list) advance(r);
      const members = list
        .slice()
        .reverse()
        .map(
          (r) =>
            `<member><InstanceRefreshId>${r.id}</InstanceRefreshId><AutoScalingGroupName>${esc(r.group)}</AutoScalingGroupName>` +
            `<Status>${r.status}</Status>${r.reason ? `<StatusReason>${esc(r.reason)}</StatusReason>` : ''}` +
            `<PercentageComplete>${r.percentage}</PercentageComplete><InstancesToUpdate>${r.status === 'Successful' ? 0 : 2}</InstancesToUpdate>` +
            `<StartTime>${r.startTime}</StartTime>${r.endTime ? `<EndTime>${r.endTime}</EndTime>` : ''}</member>`,
        )
        .join('');
      return {
        status: 200,
        xml: wrap(action, `<InstanceRefreshes>${members}</InstanceRefreshes>`),
      };
    }
    if (action === 'CancelInstanceRefresh') {
      if (!active) return { status: 400, code: 'ActiveInstanceRefreshNotFound' };
      active.status = 'Cancelled';
      active.endTime = new Date().toISOString();
      return {
        status: 200,
        xml: wrap(action, `<InstanceRefreshId>${active.id}</InstanceRefreshId>`),
      };
    }
    if (action === 'RollbackInstanceRefresh') {
      if (!active) return { status: 400, code: 'ActiveInstanceRefreshNotFound' };
      active.status = 'RollbackSuccessful';
      active.endTime = new Date().toISOString();
      return {
        status: 200,
        xml: wrap(action, `<InstanceRefreshId>${active.id}</InstanceRefreshId>`),
      };
    }
    return { status: 400, code: 'InvalidAction' };
  }

  function advance(r: Refresh): void {
    if (!['Pending', 'InProgress'].includes(r.status)) return;
    r.polls++;
    const needed = r.scenario.polls ?? 2;
    if (r.polls >= needed) {
      // AWS rolls a failed refresh back itself when it was started with AutoRollback.
      r.status =
        r.scenario.outcome === 'Failed' && r.preferences.AutoRollback === 'true'
          ? 'RollbackSuccessful'
          : r.scenario.outcome;
      r.percentage = r.scenario.outcome === 'Successful' ? 100 : 50;
      if (r.scenario.outcome === 'Failed')
        r.reason = r.scenario.reason ?? 'instances failed health checks';
      r.endTime = new Date().toISOString();
    } else {
      r.status = 'InProgress';
      r.percentage = Math.floor((100 * r.polls) / needed);
    }
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  // The same object the server reads, so a test's `onRequest` or scenario changes take effect.
  return Object.assign(proxy, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const r of rules) r.release?.();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  }) as FaultProxy;
}

function wrap(action: string, inner: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?><${action}Response xmlns="${ASG_NS}"><${action}Result>${inner}</${action}Result>` +
    `<ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></${action}Response>`
  );
}

function sendError(res: ServerResponse, status: number, code: string, asg: boolean): void {
  const message = `injected by the test fault proxy: ${code}`;
  const xml = asg
    ? `<?xml version="1.0" encoding="UTF-8"?><ErrorResponse xmlns="${ASG_NS}"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`
    : `<?xml version="1.0" encoding="UTF-8"?><Response xmlns="${EC2_NS}"><Errors><Error><Code>${code}</Code><Message>${message}</Message></Error></Errors><RequestID>${randomUUID()}</RequestID></Response>`;
  sendXml(res, status, xml);
}

function sendXml(res: ServerResponse, status: number, xml: string): void {
  res.writeHead(status, { 'content-type': 'text/xml', 'content-length': Buffer.byteLength(xml) });
  res.end(xml);
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function forward(
  target: string,
  req: IncomingMessage,
  body: Buffer,
): Promise<{
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}> {
  const url = new URL(req.url ?? '/', target);
  return new Promise((resolve, reject) => {
    const headers = { ...req.headers, host: url.host, 'content-length': String(body.length) };
    const up = request(url, { method: req.method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 502,
          headers: res.headers,
          body: Buffer.concat(chunks),
        }),
      );
      res.on('error', reject);
    });
    up.on('error', reject);
    up.end(body);
  });
}
