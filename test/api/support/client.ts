import { request, Agent } from 'node:http';
import { connect, type Socket } from 'node:net';
import WebSocket from 'ws';

/**
 * HTTP and raw-socket clients that choose their source address on loopback (127.0.0.2, 127.0.0.3,
 * ...): each is a different client to the per-address limits, on the same machine.
 */
export interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

const agents = new Map<string, Agent>();

export function httpReq(port: number, opts: { from?: string; method?: string; path: string; headers?: Record<string, string>; body?: Buffer | string }): Promise<Answer> {
  const from = opts.from ?? '127.0.0.1';
  let agent = agents.get(from);
  if (!agent) agents.set(from, (agent = new Agent({ keepAlive: true, localAddress: from } as ConstructorParameters<typeof Agent>[0])));
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, method: opts.method ?? 'GET', path: opts.path, headers: opts.headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          // not JSON
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
      });
      res.on('error', reject);
    });
    r.on('error', reject);
    r.end(opts.body);
  });
}

export function closeAgents(): void {
  for (const a of agents.values()) a.destroy();
  agents.clear();
}

export function rawSocket(port: number, from = '127.0.0.1'): Promise<Socket> {
  return new Promise((res, rej) => {
    const s = connect({ port, host: '127.0.0.1', localAddress: from }, () => res(s));
    s.on('error', rej);
  });
}

/** What a raw socket receives until the server closes it (or `ms` pass): text, and whether it was closed. */
export function collect(s: Socket, ms: number): Promise<{ text: string; closed: boolean; afterMs: number }> {
  const t0 = performance.now();
  return new Promise((res) => {
    let text = '';
    const t = setTimeout(() => res({ text, closed: false, afterMs: performance.now() - t0 }), ms);
    s.on('data', (d) => (text += d.toString('latin1')));
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(t);
      res({ text, closed: true, afterMs: performance.now() - t0 });
    });
  });
}

/** Opens a WebSocket; resolves with the socket, or with the HTTP status of a refused upgrade. */
export function openWs(port: number, opts: { from?: string; origin?: string } = {}): Promise<{ ws: WebSocket; status: 101 } | { ws: undefined; status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/api/v11/ws`, { localAddress: opts.from ?? '127.0.0.1', ...(opts.origin && { origin: opts.origin }) });
    ws.once('open', () => resolve({ ws, status: 101 }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ ws: undefined, status: res.statusCode ?? 0, body }));
    });
    ws.once('error', reject);
  });
}

let scrapes = 0;

/** A metric's value (summed over labels), scraped from an address of its own so no test budget pays. */
export async function metric(port: number, name: string): Promise<number> {
  const r = await httpReq(port, { path: '/q/metrics', from: `127.0.1.${1 + (scrapes++ % 250)}` });
  const text = typeof r.body === 'string' ? r.body : '';
  return [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? ([0-9.e+-]+)$`, 'gm'))].reduce((s, m) => s + Number(m[1]), 0);
}
