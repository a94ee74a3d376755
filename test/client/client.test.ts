import { createServer, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ClientError, HotledgerClient, Keypair, TransactionRejectedError, transactionId } from '../../src/client/index.js';
import { readKeyFile } from '../../src/crypto/keys.js';
import { txId } from '../../src/tx/codec.js';
import { MAX_AMOUNT } from '../../src/tx/layout.js';
import { startApi, transfer as rawTransfer, type ApiHarness } from '../api/support/api.js';

/** The client against a real node (in-process node, real uWS server on a loopback port). */
let h: ApiHarness;
let client: HotledgerClient;
beforeAll(async () => {
  h = await startApi({ overrides: { chain: { genesis: { devnetAccounts: 6 } } } });
  client = new HotledgerClient(h.base);
});
afterAll(async () => {
  client?.close();
  await h?.close();
});

const kp = (i: number) => Keypair.fromSeed(h.tn.keys[i]!.seed);

describe('HotledgerClient against a real node', () => {
  test('transfer() fills the nonce, resolves when durable with height and position; queries agree', async () => {
    const from = kp(0);
    const to = kp(1).publicKeyHex;
    const before = await client.account(to);
    const d = await client.transfer({ from, to, amount: 25 });
    expect(d.id).toMatch(/^[0-9a-f]{64}$/);
    expect(d.height).toBeGreaterThanOrEqual(1);
    expect(d.position).toBeGreaterThanOrEqual(0);
    expect(await client.transaction(d.id)).toMatchObject({ status: 'committed', id: d.id, height: d.height, position: d.position });
    expect((await client.account(to))!.balance).toBe(before!.balance + 25n);
    expect((await client.account(from.publicKey))!.nonce).toBe(1);
    const block = await client.block(d.height);
    expect(block).toMatchObject({ height: d.height });
    expect(block!.txCount).toBeGreaterThan(d.position);
    expect((await client.block('latest'))!.height).toBeGreaterThanOrEqual(d.height);
    expect(await client.block(1_000_000)).toBeUndefined();
    expect(await client.account(Keypair.generate().publicKey)).toBeUndefined();
  });

  test('concurrent transfers from one sender each get their own nonce and all commit', async () => {
    const from = kp(2);
    const start = (await client.account(from.publicKey))!.nonce;
    const all = await Promise.all(Array.from({ length: 8 }, () => client.transfer({ from, to: kp(3).publicKey, amount: 1 })));
    expect(new Set(all.map((d) => d.id)).size).toBe(8);
    expect((await client.account(from.publicKey))!.nonce).toBe(start + 8);
  });

  test('the outcome arrives on the WebSocket watch, not by polling', async () => {
    // Polling once a minute: only the watch can resolve this within the test's few seconds.
    const watching = new HotledgerClient(h.base, { pollIntervalMs: 60_000, durableTimeoutMs: 8000 });
    const t0 = performance.now();
    const d = await watching.transfer({ from: kp(4), to: kp(5).publicKey, amount: 4 });
    expect(performance.now() - t0).toBeLessThan(5000);
    expect(await client.transaction(d.id)).toMatchObject({ status: 'committed', height: d.height, position: d.position });
    watching.close();
  });

  test('without the WebSocket it polls and resolves the same way', async () => {
    const polling = new HotledgerClient(h.base, { useWebSocket: false, pollIntervalMs: 50 });
    const d = await polling.transfer({ from: kp(4), to: kp(5).publicKey, amount: 3 });
    expect(await client.transaction(d.id)).toMatchObject({ status: 'committed', height: d.height, position: d.position });
  });

  test('a transfer rejected at execution rejects with TransactionRejectedError INSUFFICIENT_FUNDS and its height', async () => {
    const e = await client.transfer({ from: kp(1), to: kp(0).publicKey, amount: MAX_AMOUNT }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TransactionRejectedError);
    const r = e as TransactionRejectedError;
    expect(r.rejectCode).toBe('INSUFFICIENT_FUNDS');
    expect(r.height).toBeGreaterThanOrEqual(1);
    expect(r.retrySafe).toBe(false);
    expect(await client.transaction(r.id)).toMatchObject({ status: 'rejected', code: 'INSUFFICIENT_FUNDS' });
    // The tracker forgot the sender: its next transfer takes the next committed nonce and commits.
    await expect(client.transfer({ from: kp(1), to: kp(0).publicKey, amount: 1 })).resolves.toMatchObject({ height: expect.any(Number) });
  });

  test('a transfer refused at admission rejects typed with the code, no height', async () => {
    const e = await client.transfer({ from: Keypair.generate(), to: kp(0).publicKey, amount: 1 }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(TransactionRejectedError);
    expect((e as TransactionRejectedError).rejectCode).toBe('UNKNOWN_SENDER');
    expect((e as TransactionRejectedError).height).toBeUndefined();
  });

  test('submit() of a batch goes as one binary request and answers per transaction, under the local ids', async () => {
    const from = kp(3);
    const n = (await client.account(from.publicKey))!.nonce;
    const a = await client.sign({ from, to: kp(4).publicKey, amount: 2, nonce: n + 1 });
    const b = await client.sign({ from, to: kp(4).publicKey, amount: 0, nonce: n + 2 });
    const ans = await client.submit([a, b]);
    expect(ans).toMatchObject({ endpoint: h.base, accepted: 1, rejected: 1 });
    expect(ans.results[0]).toEqual({ index: 0, id: a.id, accepted: true });
    expect(ans.results[1]).toMatchObject({ index: 1, id: b.id, accepted: false, code: 'ZERO_AMOUNT' });
    // The same signed bytes again are the same transaction: the node knows it, under the same id.
    const again = await client.submit(a);
    expect(again.results[0]).toMatchObject({ id: a.id, accepted: false, code: expect.stringMatching(/DUPLICATE|NONCE_PENDING|NONCE_TOO_LOW/) });
    expect(await client.waitDurable(a.id)).toMatchObject({ status: 'committed', id: a.id });
  });

  test('a block subscription yields committed blocks as an async iterator', async () => {
    let opened!: () => void;
    const open = new Promise<void>((r) => (opened = r));
    const it = client.blocks({ txIds: true, onOpen: () => opened() });
    const first = it.next();
    await open; // the subscribe is on the wire before the commit
    const d = await client.transfer({ from: kp(5), to: kp(0).publicKey, amount: 1 });
    let seen = (await first).value!;
    while (seen.height < d.height) seen = (await it.next()).value!;
    expect(seen.height).toBe(d.height);
    expect(seen.txIds).toContain(d.id);
    await it.return(undefined);
  });

  test('a timed-out submission is resent as the same bytes to the next endpoint: one id, never two transactions', async () => {
    // A real socket that takes the request and never answers (a node that hangs).
    const seen: Buffer[] = [];
    const hang: Server = createServer((req) => {
      const chunks: Buffer[] = [];
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('end', () => seen.push(Buffer.concat(chunks)));
    });
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    const hangUrl = `http://127.0.0.1:${(hang.address() as { port: number }).port}`;
    try {
      const c = new HotledgerClient([hangUrl, h.base], { chainId: h.tn.chainId, requestTimeoutMs: 300 });
      const from = kp(4);
      const tx = await c.sign({ from, to: kp(0).publicKey, amount: 1, nonce: (await client.account(from.publicKey))!.nonce + 1 });
      const ans = await c.submit(tx);
      expect(ans.endpoint).toBe(h.base);
      expect(seen).toHaveLength(1);
      expect(Buffer.compare(seen[0]!, Buffer.from(tx.bytes))).toBe(0);
      expect((await client.waitDurable(tx.id)).status).toBe('committed');
      c.close();
    } finally {
      hang.closeAllConnections();
      await new Promise((r) => hang.close(r));
    }
  });

  test('transfer() that times out after sending says retry is not safe and hands back the one signed transaction to resend', async () => {
    // A node that answers reads (proxied to the real node) but never answers a submission.
    const posted: Buffer[] = [];
    const hang: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (d: Buffer) => chunks.push(d));
      req.on('end', async () => {
        if (req.method === 'POST') return void posted.push(Buffer.concat(chunks));
        const r = await fetch(h.base + req.url);
        res.writeHead(r.status, { 'content-type': 'application/json' }).end(await r.text());
      });
    });
    await new Promise<void>((r) => hang.listen(0, '127.0.0.1', r));
    try {
      const c = new HotledgerClient(`http://127.0.0.1:${(hang.address() as { port: number }).port}`, { chainId: h.tn.chainId, requestTimeoutMs: 300 });
      const from = kp(0);
      const nonce = (await client.account(from.publicKey))!.nonce;
      const e = await c.transfer({ from, to: kp(2).publicKey, amount: 7 }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(ClientError);
      const err = e as ClientError;
      expect(err).toMatchObject({ code: 'TIMEOUT', retrySafe: false });
      expect(posted).toHaveLength(1);
      expect(Buffer.compare(posted[0]!, Buffer.from(err.transaction!.bytes))).toBe(0);
      // Resending those bytes elsewhere is the same transaction: it commits once, under its id.
      const ans = await client.submit(err.transaction!);
      expect(ans.results[0]).toMatchObject({ id: err.transaction!.id, accepted: true });
      expect((await client.waitDurable(err.transaction!.id)).status).toBe('committed');
      expect((await client.account(from.publicKey))!.nonce).toBe(nonce + 1);
      c.close();
    } finally {
      hang.closeAllConnections();
      await new Promise((r) => hang.close(r));
    }
  });

  test('a single unreachable endpoint fails typed and retry-safe', async () => {
    const c = new HotledgerClient('http://127.0.0.1:1', { chainId: 1, requestTimeoutMs: 1000 });
    const e = await c.account(kp(0).publicKey).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ClientError);
    expect((e as ClientError).code).toBe('NETWORK');
    expect((e as ClientError).retrySafe).toBe(true);
    // The fetch failure stays attached: callers (the CLI) can say "connection refused" in words.
    const free: Server = createServer();
    await new Promise<void>((r) => free.listen(0, '127.0.0.1', r));
    const port = (free.address() as { port: number }).port;
    await new Promise((r) => free.close(r));
    const refused = await new HotledgerClient(`http://127.0.0.1:${port}`, { chainId: 1 }).info().catch((x: unknown) => x);
    expect(refused).toMatchObject({ code: 'NETWORK' });
    expect(((refused as ClientError).cause as { cause?: { code?: string } }).cause?.code).toBe('ECONNREFUSED');
  });

  test('info, stats, consensus status and health of the node', async () => {
    const info = await client.info();
    expect(info).toMatchObject({ chainId: h.tn.chainId, role: expect.any(String), nodeId: expect.any(String) });
    expect(info.config).toBeDefined();
    expect(await client.stats({ endpoint: h.base })).toMatchObject({ height: expect.any(Number), committedTxs: expect.any(Number) });
    expect(await client.consensusStatus()).toBeTypeOf('object');
    const health = await client.health();
    expect(health.status).toBe('UP');
    expect(health.checks.length).toBeGreaterThan(0);
    // The probes are the readiness and liveness subsets of the full report.
    const ready = await client.health({ probe: 'ready' });
    const live = await client.health({ probe: 'live' });
    const names = (r: typeof health) => r.checks.map((c) => c.name);
    expect(ready.status).toBe('UP');
    expect(new Set([...names(ready), ...names(live)])).toEqual(new Set(names(health)));
  });

  test('a DOWN health report (503) is returned at once, not retried as overload', async () => {
    let asked = 0;
    const down: Server = createServer((_req, res) => {
      asked++;
      res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' }).end(JSON.stringify({ status: 'DOWN', checks: [{ name: 'api', status: 'DOWN' }] }));
    });
    await new Promise<void>((r) => down.listen(0, '127.0.0.1', r));
    try {
      const c = new HotledgerClient(`http://127.0.0.1:${(down.address() as { port: number }).port}`, { chainId: 1 });
      expect(await c.health()).toEqual({ status: 'DOWN', checks: [{ name: 'api', status: 'DOWN' }] });
      expect(asked).toBe(1);
      // Any other endpoint's 503 is still overload: waited for and retried.
      const e = await new HotledgerClient(c.endpoints[0]!, { chainId: 1, maxRetries: 1, maxBackoffMs: 10 }).stats().catch((x: unknown) => x);
      expect(e).toMatchObject({ status: 503 });
      expect(asked).toBe(3);
    } finally {
      down.closeAllConnections();
      await new Promise((r) => down.close(r));
    }
  });
});

describe('keys and ids', () => {
  test('the id computed with noble is the node codec id; signing reuses the one encoder', async () => {
    const tx = await client.sign({ from: kp(0), to: kp(1).publicKey, amount: 10, nonce: 7 });
    expect(tx.id).toBe(txId(tx.bytes).toString('hex'));
    expect(transactionId(tx.bytes)).toBe(tx.id);
    expect(Buffer.compare(Buffer.from(tx.bytes), rawTransfer(h.tn, 0, 1, 7, 10))).toBe(0);
  });

  test('key files are in the src/crypto/keys.ts format, 0600, and read back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hotledger-client-key-'));
    try {
      const k = Keypair.generate();
      const path = join(dir, 'k.json');
      k.writeFile(path);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual(k.toKeyFile());
      expect(Buffer.from(readKeyFile(path).publicKey).toString('hex')).toBe(k.publicKeyHex);
      expect(Keypair.readFile(path).publicKeyHex).toBe(k.publicKeyHex);
      expect(Keypair.fromKeyFile(k.toKeyFile()).publicKeyHex).toBe(k.publicKeyHex);
      expect(() => Keypair.fromKeyFile({ ...k.toKeyFile(), publicKey: Keypair.generate().publicKeyHex })).toThrow(/does not match/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
