import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startApi, transfer, type ApiHarness } from './support/api.js';
import { closeAgents, collect, httpReq, metric, openWs, rawSocket } from './support/client.js';
import { TX_SIZE } from '../../src/tx/layout.js';
import { generateTransfers } from '../../src/workload/generate.js';
import type WebSocket from 'ws';

/**
 * Per-client limits on the real uWS server on a real port. Each test speaks from its own loopback
 * source address (127.0.0.x), so each is a fresh client to the per-address limits.
 */
const BIN = { 'content-type': 'application/octet-stream' };
let h: ApiHarness;
beforeAll(async () => {
  h = await startApi({
    overrides: {
      chain: { genesis: { devnetAccounts: 8 } },
      api: {
        maxBodyBytes: 64 * 1024,
        rateLimitPerSec: 2,
        rateLimitBurst: 5,
        txRateLimitPerSec: 10,
        txRateLimitBurst: 400, // >= 64 KiB / 168
        healthRateLimitPerSec: 3,
        maxConcurrentBodies: 3,
        maxConcurrentBodiesPerAddress: 2,
        maxBufferedBodyBytes: 64 * 1024,
        bodyTimeoutMs: 600,
        wsMaxConnections: 3,
        wsMaxConnectionsPerAddress: 2,
        wsMaxWatchedIds: 3,
        wsMaxRefusals: 3,
        wsAllowedOrigins: ['https://wallet.example'],
      },
    },
  });
});
afterAll(async () => {
  closeAgents();
  await h?.close();
});

const port = () => h.server.port;

describe('request rate per client', () => {
  test('past the burst: 429 RATE_LIMITED with Retry-After from the bucket; another client is unaffected', async () => {
    const from = '127.0.0.2';
    for (let i = 0; i < 5; i++) expect((await httpReq(port(), { from, path: '/api/v11/info' })).status).toBe(200);
    const r = await httpReq(port(), { from, path: '/api/v11/info' });
    expect(r.status).toBe(429);
    expect(r.body.error.code).toBe('RATE_LIMITED');
    expect(r.body.error.limit).toBe('api.rateLimitPerSec');
    // 2 tokens/s: the next one is at most 500 ms away → whole seconds, at least 1.
    expect(r.headers['retry-after']).toBe('1');
    expect(r.body.error.retryAfter).toBe(1);
    // Unknown routes cost the same: a 404 flood is not free.
    expect((await httpReq(port(), { from, path: '/nope' })).status).toBe(429);
    expect((await httpReq(port(), { from: '127.0.0.3', path: '/api/v11/info' })).status).toBe(200);
    // The bucket refills: after Retry-After the client is served again.
    await new Promise((r) => setTimeout(r, 600));
    expect((await httpReq(port(), { from, path: '/api/v11/info' })).status).toBe(200);
    expect(await metric(port(), 'hotledger_api_limited_total')).toBeGreaterThan(0);
  });

  test('health probes have their own bucket: not starved by other routes, and limited themselves', async () => {
    const from = '127.0.0.4';
    for (let i = 0; i < 8; i++) await httpReq(port(), { from, path: '/api/v11/stats' });
    expect((await httpReq(port(), { from, path: '/api/v11/stats' })).status).toBe(429);
    expect((await httpReq(port(), { from, path: '/q/health/live' })).status).toBe(200);
    expect((await httpReq(port(), { from, path: '/q/health/ready' })).status).toBe(200);
    expect((await httpReq(port(), { from, path: '/q/health' })).status).toBe(200);
    const r = await httpReq(port(), { from, path: '/q/health/live' });
    expect(r.status).toBe(429);
    expect(r.body.error.limit).toBe('api.healthRateLimitPerSec');
  });
});

describe('transaction budget per client', () => {
  test('a batch costs one token per transaction: refused with Retry-After computed from the deficit, GETs still served', async () => {
    const from = '127.0.0.5';
    const senders = h.tn.keys.slice(4, 6);
    const all = generateTransfers({ chainId: h.tn.chainId, senders, recipients: [h.tn.keys[7]!.publicKey], count: 600 });
    const batch = (a: number, b: number) => all.subarray(a * TX_SIZE, b * TX_SIZE);
    // 380 of the 400-token burst.
    const first = await httpReq(port(), { from, method: 'POST', path: '/api/v11/transactions?results=none', headers: BIN, body: batch(0, 380) });
    expect(first.status, JSON.stringify(first.body)).toBe(202);
    expect(first.body.accepted).toBe(380);
    // 60 more: 20 left, 40 missing at 10/s → about 4 s.
    const second = await httpReq(port(), { from, method: 'POST', path: '/api/v11/transactions', headers: BIN, body: batch(380, 440) });
    expect(second.status).toBe(429);
    expect(second.body.error).toMatchObject({ code: 'RATE_LIMITED', limit: 'api.txRateLimitPerSec' });
    expect(Number(second.headers['retry-after'])).toBeGreaterThanOrEqual(4);
    expect(Number(second.headers['retry-after'])).toBeLessThanOrEqual(5);
    // The request budget is not the tx budget: a GET is still served.
    expect((await httpReq(port(), { from, path: `/api/v11/accounts/${Buffer.from(senders[0]!.publicKey).toString('hex')}` })).status).toBe(200);
    // 10 fit.
    const third = await httpReq(port(), { from, method: 'POST', path: '/api/v11/transactions?results=none', headers: BIN, body: batch(380, 390) });
    expect(third.status, JSON.stringify(third.body)).toBe(202);
  });

  test('a binary batch past the budget is refused from its Content-Length, before its body is read', async () => {
    const from = '127.0.0.6';
    const senders = h.tn.keys.slice(6, 7);
    const all = generateTransfers({ chainId: h.tn.chainId, senders, recipients: [h.tn.keys[7]!.publicKey], count: 390 });
    expect((await httpReq(port(), { from, method: 'POST', path: '/api/v11/transactions?results=none', headers: BIN, body: all })).status).toBe(202);
    const s = await rawSocket(port(), from);
    const answer = collect(s, 3000);
    // Headers only: the 30 KiB body is never sent, the answer comes anyway and the connection closes.
    s.write(`POST /api/v11/transactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${TX_SIZE * 200}\r\n\r\n`);
    const out = await answer;
    expect(out.text).toMatch(/^HTTP\/1\.1 429/);
    expect(out.text).toMatch(/Retry-After: \d+/i);
    expect(out.closed).toBe(true);
  });
});

describe('request bodies: concurrency, buffered bytes, slow bodies', () => {
  const head = (len: number) => `POST /api/v11/transactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${len}\r\n\r\n`;

  test('per client and global caps on bodies being read: 429 / 503 at once, connection closed without reading', async () => {
    const held = [];
    // Two bodies from .7 (its cap), one from .8: three in all (the global cap).
    for (const from of ['127.0.0.7', '127.0.0.7', '127.0.0.8']) {
      const s = await rawSocket(port(), from);
      s.on('error', () => undefined);
      s.write(head(TX_SIZE * 10) + 'x'.repeat(10));
      held.push(s);
    }
    await new Promise((r) => setTimeout(r, 100));
    expect(await metric(port(), 'hotledger_api_bodies_in_flight')).toBe(3);
    const third = await rawSocket(port(), '127.0.0.7');
    const a = collect(third, 2000);
    third.write(head(TX_SIZE * 10));
    const perClient = await a;
    expect(perClient.text).toMatch(/^HTTP\/1\.1 429/);
    expect(perClient.text).toContain('api.maxConcurrentBodiesPerAddress');
    expect(perClient.closed).toBe(true);
    const other = await rawSocket(port(), '127.0.0.9');
    const b = collect(other, 2000);
    other.write(head(TX_SIZE * 10));
    const global = await b;
    expect(global.text).toMatch(/^HTTP\/1\.1 503/);
    expect(global.text).toContain('OVERLOADED');
    expect(global.text).toMatch(/Retry-After: 1/i);
    expect(global.closed).toBe(true);
    for (const s of held) s.destroy();
    await new Promise((r) => setTimeout(r, 100));
    expect(await metric(port(), 'hotledger_api_bodies_in_flight')).toBe(0);
    expect(await metric(port(), 'hotledger_api_buffered_body_bytes')).toBe(0);
  });

  test('buffered bytes: a declared body that would pass the budget is refused with 503 before it is read', async () => {
    const big = await rawSocket(port(), '127.0.0.10');
    big.on('error', () => undefined);
    big.write(head(60 * 1024) + 'y'.repeat(40 * 1024));
    await new Promise((r) => setTimeout(r, 150));
    expect(await metric(port(), 'hotledger_api_buffered_body_bytes')).toBe(40 * 1024);
    const s = await rawSocket(port(), '127.0.0.11');
    const a = collect(s, 2000);
    s.write(head(30 * 1024));
    const out = await a;
    expect(out.text).toMatch(/^HTTP\/1\.1 503/);
    expect(out.text).toContain('api.maxBufferedBodyBytes');
    expect(out.closed).toBe(true);
    big.destroy();
    await new Promise((r) => setTimeout(r, 100));
    expect(await metric(port(), 'hotledger_api_buffered_body_bytes')).toBe(0);
  });

  test('slowloris: a body trickled past api.bodyTimeoutMs gets 408 and a closed connection; its bytes are released', async () => {
    const timeoutsBefore = await metric(port(), 'hotledger_api_body_timeouts_total');
    const s = await rawSocket(port(), '127.0.0.12');
    const a = collect(s, 5000);
    s.write(head(TX_SIZE * 40));
    const trickle = setInterval(() => {
      if (!s.destroyed) s.write('z'.repeat(16));
    }, 50);
    const out = await a;
    clearInterval(trickle);
    expect(out.text).toMatch(/^HTTP\/1\.1 408/);
    expect(out.text).toContain('REQUEST_TIMEOUT');
    expect(out.closed).toBe(true);
    expect(out.afterMs).toBeGreaterThanOrEqual(500);
    expect(out.afterMs).toBeLessThan(3000);
    expect(await metric(port(), 'hotledger_api_body_timeouts_total')).toBe(timeoutsBefore + 1);
    expect(await metric(port(), 'hotledger_api_bodies_in_flight')).toBe(0);
    expect(await metric(port(), 'hotledger_api_buffered_body_bytes')).toBe(0);
    // A body that arrives in time is still served.
    const ok = await httpReq(port(), { from: '127.0.0.12', method: 'POST', path: '/api/v11/transactions', headers: BIN, body: transfer(h.tn, 0, 1, 1) });
    expect(ok.status, JSON.stringify(ok.body)).toBe(202);
  });
});

describe('WebSocket limits', () => {
  const closed = (ws: WebSocket) => new Promise<number>((r) => ws.once('close', (code) => r(code)));

  test('connections per client (429) and in all (503) are refused before the upgrade', async () => {
    const a1 = await openWs(port(), { from: '127.0.0.20' });
    const a2 = await openWs(port(), { from: '127.0.0.20' });
    expect([a1.status, a2.status]).toEqual([101, 101]);
    const a3 = await openWs(port(), { from: '127.0.0.20' });
    expect(a3.status).toBe(429);
    expect(a3.ws === undefined && JSON.parse(a3.body).error.limit).toBe('api.wsMaxConnectionsPerAddress');
    const b1 = await openWs(port(), { from: '127.0.0.21' });
    expect(b1.status).toBe(101);
    const c1 = await openWs(port(), { from: '127.0.0.22' });
    expect(c1.status).toBe(503);
    expect(c1.ws === undefined && JSON.parse(c1.body).error.code).toBe('OVERLOADED');
    // A closed socket frees its place.
    const gone = closed(a1.ws!);
    a1.ws!.close();
    await gone;
    await new Promise((r) => setTimeout(r, 50));
    const c2 = await openWs(port(), { from: '127.0.0.22' });
    expect(c2.status).toBe(101);
    for (const x of [a2, b1, c2]) x.ws?.close();
    await new Promise((r) => setTimeout(r, 100));
  });

  test('Origin: a browser page from another origin gets 403 before the upgrade; listed origin and no Origin are allowed', async () => {
    const evil = await openWs(port(), { from: '127.0.0.23', origin: 'https://evil.example' });
    expect(evil.status).toBe(403);
    expect(evil.ws === undefined && JSON.parse(evil.body).error.code).toBe('ORIGIN_NOT_ALLOWED');
    const good = await openWs(port(), { from: '127.0.0.23', origin: 'https://wallet.example' });
    expect(good.status).toBe(101);
    const tool = await openWs(port(), { from: '127.0.0.24' });
    expect(tool.status).toBe(101);
    good.ws?.close();
    tool.ws?.close();
    await new Promise((r) => setTimeout(r, 100));
  });

  test('messages share the client rate; refused ones get RATE_LIMITED with retryAfter (acks in order); a flooder is closed 1008', async () => {
    const c = await openWs(port(), { from: '127.0.0.25' });
    const ws = c.ws!;
    const msgs: any[] = [];
    ws.on('message', (d) => msgs.push(JSON.parse(String(d))));
    const code = closed(ws);
    // Upgrade took 1 of 5 tokens; 4 messages pass (2 subscribes, 2 binary), then refusals.
    ws.send(JSON.stringify({ op: 'subscribe', topic: 'blocks' }));
    ws.send(Buffer.concat([transfer(h.tn, 2, 3, 1)]));
    ws.send(Buffer.concat([transfer(h.tn, 2, 3, 2)]));
    ws.send(JSON.stringify({ op: 'unsubscribe', topic: 'blocks' }));
    ws.send(Buffer.concat([transfer(h.tn, 2, 3, 3)]));
    for (let i = 0; i < 10; i++) ws.send(JSON.stringify({ op: 'subscribe', topic: 'blocks' }));
    expect(await code).toBe(1008);
    const acks = msgs.filter((m) => m.type === 'ack' || (m.type === 'error' && m.seq !== undefined));
    expect(acks.map((m) => m.seq)).toEqual([1, 2, 3]);
    expect(acks[0].type).toBe('ack');
    expect(acks[1].type).toBe('ack');
    expect(acks[2]).toMatchObject({ type: 'error', seq: 3, code: 'RATE_LIMITED', limit: 'api.rateLimitPerSec' });
    const refusals = msgs.filter((m) => m.code === 'RATE_LIMITED');
    expect(refusals.length).toBeGreaterThanOrEqual(3);
    for (const r of refusals) expect(r.retryAfter).toBeGreaterThanOrEqual(1);
    expect(await metric(port(), 'hotledger_ws_refused_total')).toBeGreaterThan(0);
  });

  test('watched ids per connection come from api.wsMaxWatchedIds', async () => {
    const c = await openWs(port(), { from: '127.0.0.26' });
    const msgs: any[] = [];
    c.ws!.on('message', (d) => msgs.push(JSON.parse(String(d))));
    c.ws!.send(JSON.stringify({ op: 'watch', ids: ['01', '02', '03', '04'].map((x) => x.repeat(32)) }));
    await new Promise((r) => setTimeout(r, 200));
    expect(msgs[0]).toMatchObject({ type: 'error', code: 'BAD_REQUEST', limit: 3 });
    c.ws!.close();
  });
});
