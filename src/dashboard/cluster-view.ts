import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HotledgerError } from '../errors.js';
import type { NodeStats } from '../node/node-api.js';
import { dashboardAssets } from './assets.js';

/** A logical node of the cluster as the view lists it. */
export interface ClusterViewNode {
  id: string;
  role: string;
  /** The OS process that runs it (several nodes share one under `hotledger host`). */
  process: string;
  /** API base URL, no `/api/v11`. */
  url: string;
}

export interface ClusterViewOptions {
  host?: string;
  /** 0: any free port. */
  port?: number;
  /** How often every node is asked for its stats. A killed node is seen down at the next ask. */
  pollMs?: number;
}

export interface ClusterView {
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
}

/** What the page gets from `/cluster/status`, one entry per node. */
interface NodeState {
  id: string;
  role: string;
  process: string;
  url: string;
  /** `down`: no answer to the last ask; `not-ready`: answers, readiness DOWN; `starting`: not asked yet. */
  status: 'up' | 'down' | 'not-ready' | 'starting';
  height: number | null;
  tps: number | null;
  p99Ms: number | null;
  mempool: number | null;
  /** Since when the current status holds (epoch ms). */
  since: number;
  error?: string;
}

const READY_EVERY = 4; // readiness is asked every 4th poll; up/down comes from every one

/**
 * The cluster's one page: a small HTTP server in the `hotledger cluster` process (not in any node)
 * that asks every node for its stats every `pollMs` and serves the page and the gathered states.
 * The nodes' own servers see one stats request per poll, as from any monitor.
 */
export async function startClusterView(nodes: readonly ClusterViewNode[], o: ClusterViewOptions = {}): Promise<ClusterView> {
  const pollMs = o.pollMs ?? 500;
  const states: NodeState[] = nodes.map((n) => ({ ...n, status: 'starting', height: null, tps: null, p99Ms: null, mempool: null, since: Date.now() }));
  const ready: (boolean | undefined)[] = nodes.map(() => undefined);
  let tick = 0;
  let stopped = false;
  const set = (s: NodeState, status: NodeState['status']) => {
    if (s.status !== status) s.since = Date.now();
    s.status = status;
  };

  async function pollOnce(): Promise<void> {
    const askReady = tick++ % READY_EVERY === 0;
    await Promise.all(
      states.map(async (s, i) => {
        const timeout = AbortSignal.timeout(Math.max(200, pollMs - 50));
        try {
          const res = await fetch(`${s.url}/api/v11/stats`, { signal: timeout });
          const st = (await res.json()) as NodeStats;
          s.height = st.height;
          s.tps = st.tps.s1;
          s.p99Ms = st.latencyMs.p99;
          s.mempool = st.mempool.size;
          delete s.error;
          if (askReady) ready[i] = (await fetch(`${s.url}/q/health/ready`, { signal: AbortSignal.timeout(1_000) }).catch(() => undefined))?.status === 200;
          set(s, ready[i] === false ? 'not-ready' : 'up');
        } catch (e) {
          s.error = e instanceof Error ? ((e.cause as Error | undefined)?.message ?? e.message) : String(e);
          ready[i] = undefined;
          set(s, 'down');
        }
      }),
    );
  }
  let timer: NodeJS.Timeout | undefined;
  const loop = async () => {
    const started = Date.now();
    await pollOnce();
    if (!stopped) timer = setTimeout(loop, Math.max(0, pollMs - (Date.now() - started)));
  };

  const page = staticFile(new URL('./static/cluster.html', import.meta.url), 'text/html; charset=utf-8');
  const script = staticFile(new URL('./static/cluster.js', import.meta.url), 'text/javascript; charset=utf-8');
  // The node dashboard's stylesheet, so both pages look alike.
  const css = dashboardAssets().find((a) => a.paths.includes('/dashboard/app.css'))!;
  const files = new Map<string, { body: Buffer; contentType: string; etag: string }>([
    ['/', page],
    ['/cluster', page],
    ['/cluster/cluster.js', script],
    ['/dashboard/app.css', css],
  ]);

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return send(res, 405, 'application/json', JSON.stringify({ error: { code: 'METHOD_NOT_ALLOWED', message: 'use GET' } }), { Allow: 'GET' });
    if (path === '/cluster/status') {
      const maxHeight = Math.max(0, ...states.map((s) => s.height ?? 0));
      const body = { at: Date.now(), pollMs, maxHeight, nodes: states.map((s) => ({ ...s, lag: s.height === null ? null : maxHeight - s.height })) };
      return send(res, 200, 'application/json', JSON.stringify(body), { 'Cache-Control': 'no-store' });
    }
    const f = files.get(path);
    if (!f) return send(res, 404, 'application/json', JSON.stringify({ error: { code: 'NOT_FOUND', message: `no route for GET ${path.slice(0, 200)}` } }));
    if (req.headers['if-none-match'] === f.etag) return send(res, 304, f.contentType, '', { ETag: f.etag, 'Cache-Control': 'no-cache' });
    const headers: Record<string, string> = { ETag: f.etag, 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' };
    // The page fetches only its own origin; the node links open the nodes' own dashboards.
    if (f === page)
      headers['Content-Security-Policy'] =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";
    send(res, 200, f.contentType, req.method === 'HEAD' ? '' : f.body, headers);
  });
  const host = o.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new HotledgerError('CONFIG_INVALID', `cluster view cannot listen on ${host}:${o.port ?? 0} (${(e as Error).message})`)));
    server.listen(o.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  void loop();
  let closed: Promise<void> | undefined;
  return {
    port,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    close: () =>
      (closed ??= new Promise<void>((resolve) => {
        stopped = true;
        clearTimeout(timer);
        server.closeAllConnections();
        server.close(() => resolve());
      })),
  };
}

function staticFile(url: URL, contentType: string): { body: Buffer; contentType: string; etag: string } {
  const body = readFileSync(url);
  return { body, contentType, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
}

function send(res: ServerResponse, status: number, contentType: string, body: string | Buffer, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': contentType, ...headers });
  res.end(body);
}
