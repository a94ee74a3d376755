import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startApi, override, transfer, hex, getJson, postTx, waitFor, type ApiHarness } from './support/api.js';
import { transferToJson } from '../../src/api/tx-json.js';
import { generateTransfers } from '../../src/workload/generate.js';
import { TX_SIZE, Off } from '../../src/tx/layout.js';
import { CtxOff, signContractTx } from '../../src/tx/contract-tx.js';

let h: ApiHarness;
beforeAll(async () => {
  h = await startApi();
});
afterAll(async () => {
  await h?.close();
});

function expectError(r: { status: number; body: any }, status: number, code: string): void {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body.error.code).toBe(code);
  expect(typeof r.body.error.message).toBe('string');
  expect(r.body.error.message.length).toBeGreaterThan(0);
}

describe('read routes', () => {
  test('info, stats and consensus status come from the node', async () => {
    const info = await getJson(`${h.base}/api/v11/info`);
    expect(info.status).toBe(200);
    expect(info.headers.get('content-type')).toBe('application/json');
    expect(info.body.chainId).toBe(h.tn.chainId);
    const stats = await getJson(`${h.base}/api/v11/stats`);
    expect(stats.status).toBe(200);
    expect(stats.body.mempool.capacity).toBe(h.tn.config.mempool.capacity);
    const cs = await getJson(`${h.base}/api/v11/consensus/status`);
    expect(cs.status).toBe(200);
    expect(['solo', 'hotstuff']).toContain(cs.body.mode);
  });

  test('account: balance as a decimal string, 404 unknown, 400 bad hex', async () => {
    const pk = hex(h.tn.keys[0]!.publicKey);
    const a = await getJson(`${h.base}/api/v11/accounts/${pk}`);
    expect(a.status).toBe(200);
    expect(a.body.publicKey).toBe(pk);
    expect(a.body.balance).toBe(String(h.tn.config.chain.genesis.devnetBalance));
    expect(typeof a.body.nonce).toBe('number');
    expectError(await getJson(`${h.base}/api/v11/accounts/${'ab'.repeat(32)}`), 404, 'NOT_FOUND');
    expectError(await getJson(`${h.base}/api/v11/accounts/xyz`), 400, 'BAD_REQUEST');
    expectError(await getJson(`${h.base}/api/v11/accounts/${'zz'.repeat(32)}`), 400, 'BAD_REQUEST');
  });

  test('blocks: bad height 400, unknown height 404', async () => {
    expectError(await getJson(`${h.base}/api/v11/blocks/-1`), 400, 'BAD_REQUEST');
    expectError(await getJson(`${h.base}/api/v11/blocks/abc`), 400, 'BAD_REQUEST');
    expectError(await getJson(`${h.base}/api/v11/blocks/99999999`), 404, 'NOT_FOUND');
  });

  test('transactions: unknown id 404, malformed id 400', async () => {
    expectError(await getJson(`${h.base}/api/v11/transactions/${'00'.repeat(32)}`), 404, 'NOT_FOUND');
    expectError(await getJson(`${h.base}/api/v11/transactions/1234`), 400, 'BAD_REQUEST');
  });

  test('unknown route 404, wrong method 405 with Allow', async () => {
    expectError(await getJson(`${h.base}/api/v11/nope`), 404, 'NOT_FOUND');
    // `/` is the dashboard now (test/dashboard); any other unknown path is still a JSON 404.
    expectError(await getJson(`${h.base}/nope`), 404, 'NOT_FOUND');
    const r = await fetch(`${h.base}/api/v11/info`, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } });
    expect(r.status).toBe(405);
    expect(r.headers.get('allow')).toBe('GET');
    expect(((await r.json()) as any).error.code).toBe('METHOD_NOT_ALLOWED');
    const d = await fetch(`${h.base}/api/v11/transactions`, { method: 'DELETE' });
    expect(d.status).toBe(405);
    expect(d.headers.get('allow')).toBe('POST');
    await d.text();
    const g = await fetch(`${h.base}/api/v11/transactions`);
    expect(g.status).toBe(405);
    await g.text();
  });
});

describe('submission', () => {
  test('JSON single tx → 202, then pending/committed, block and account reflect it', async () => {
    const tx = transfer(h.tn, 0, 1, 1, 25);
    const j = transferToJson(tx);
    const r = await postTx(h.base, JSON.stringify({ ...j, amount: '25' }), 'application/json; charset=utf-8');
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(r.body).toMatchObject({ accepted: 1, rejected: 0 });
    const id = r.body.results[0].id as string;
    expect(r.body.results[0]).toEqual({ index: 0, id });
    expect(id).toMatch(/^[0-9a-f]{64}$/);
    const committed = await waitFor(
      async () => {
        const s = await getJson(`${h.base}/api/v11/transactions/${id}`);
        expect(s.status).toBe(200);
        return s.body.status === 'committed' ? s.body : undefined;
      },
      20_000,
      'commit',
    );
    expect(committed.height).toBeGreaterThanOrEqual(1);
    expect(committed.position).toBeGreaterThanOrEqual(0);
    const b = await getJson(`${h.base}/api/v11/blocks/${committed.height}`);
    expect(b.status).toBe(200);
    expect(b.body.height).toBe(committed.height);
    expect(b.body.hash).toMatch(/^[0-9a-f]+$/);
    const latest = await getJson(`${h.base}/api/v11/blocks/latest`);
    expect(latest.status).toBe(200);
    expect(latest.body.height).toBeGreaterThanOrEqual(committed.height);
    const acct = await getJson(`${h.base}/api/v11/accounts/${hex(h.tn.keys[0]!.publicKey)}`);
    expect(acct.body.nonce).toBe(1);
    expect(BigInt(acct.body.balance)).toBe(BigInt(h.tn.config.chain.genesis.devnetBalance) - 25n);
  });

  test('JSON array with sender/recipient aliases and numeric fields', async () => {
    const txs = [transfer(h.tn, 2, 3, 1), transfer(h.tn, 2, 3, 2)].map((t) => {
      const j = transferToJson(t);
      return { chainId: j.chainId, sender: j.from, recipient: j.to, amount: Number(j.amount), nonce: Number(j.nonce), signature: j.signature };
    });
    const r = await postTx(h.base, JSON.stringify(txs), 'application/json');
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(r.body.accepted).toBe(2);
    expect(r.body.results.map((x: any) => x.index)).toEqual([0, 1]);
  });

  test('binary batch → 202 with ids; duplicate resubmission → 422 DUPLICATE-ish codes', async () => {
    const senders = [h.tn.keys[3]!];
    const batch = generateTransfers({ chainId: h.tn.chainId, senders, recipients: [h.tn.keys[1]!.publicKey], count: 20 });
    const r = await postTx(h.base, batch, 'application/octet-stream');
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    expect(r.body.accepted).toBe(20);
    expect(r.body.results).toHaveLength(20);
    const again = await postTx(h.base, batch, 'application/octet-stream');
    expectError(again, 422, 'INVALID_TRANSACTION');
    expect(again.body.error.rejected).toBe(20);
    expect(again.body.error.results[0]).toMatchObject({ index: 0 });
    expect(['DUPLICATE', 'NONCE_PENDING', 'NONCE_TOO_LOW']).toContain(again.body.error.results[0].code);
    expect(typeof again.body.error.results[0].message).toBe('string');
  });

  test('mixed batch: accepted and rejected listed per index; ?results=rejected trims', async () => {
    const good = transfer(h.tn, 1, 0, 1);
    const wrongChain = transfer(h.tn, 1, 0, 2);
    wrongChain.writeUInt32LE(h.tn.chainId + 1, Off.CHAIN_ID);
    const r = await postTx(h.base, Buffer.concat([good, wrongChain]), 'application/octet-stream', '?results=rejected');
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ accepted: 1, rejected: 1 });
    expect(r.body.results).toEqual([{ index: 1, code: 'WRONG_CHAIN', message: expect.any(String) }]);
    expectError(await postTx(h.base, good, 'application/octet-stream', '?results=bogus'), 400, 'BAD_REQUEST');
  });

  test('semantically invalid JSON tx (zero amount, wrong chain) → 422 with codes', async () => {
    const j = transferToJson(transfer(h.tn, 0, 1, 50));
    const r = await postTx(
      h.base,
      JSON.stringify([
        { ...j, amount: '0' },
        { ...j, chainId: h.tn.chainId + 5 },
      ]),
      'application/json',
    );
    expectError(r, 422, 'INVALID_TRANSACTION');
    expect(r.body.error.results.map((x: any) => x.code)).toEqual(['ZERO_AMOUNT', 'WRONG_CHAIN']);
  });

  test('malformed bodies → 400', async () => {
    const j = transferToJson(transfer(h.tn, 0, 1, 60));
    expectError(await postTx(h.base, '{"chainId":', 'application/json'), 400, 'BAD_REQUEST');
    expectError(await postTx(h.base, '[]', 'application/json'), 400, 'BAD_REQUEST');
    const badHex = await postTx(h.base, JSON.stringify([j, { ...j, from: `zz${j.from!.slice(2)}` }]), 'application/json');
    expectError(badHex, 400, 'BAD_REQUEST');
    expect(badHex.body.error.index).toBe(1);
    expectError(await postTx(h.base, JSON.stringify({ ...j, amount: '-1' }), 'application/json'), 400, 'BAD_REQUEST');
    expectError(await postTx(h.base, JSON.stringify({ ...j, amount: '18446744073709551616' }), 'application/json'), 400, 'BAD_REQUEST');
    expectError(await postTx(h.base, JSON.stringify({ ...j, reference: 'abcd' }), 'application/json'), 400, 'BAD_REQUEST');
    expectError(await postTx(h.base, Buffer.alloc(TX_SIZE + 1), 'application/octet-stream'), 400, 'BAD_REQUEST');
    expectError(await postTx(h.base, Buffer.alloc(0), 'application/octet-stream'), 400, 'BAD_REQUEST');
    // A contract transaction whose length field points past the body: refused whole, the record named.
    const sender = h.tn.keys[0]!;
    const call = signContractTx(
      { kind: 'call', chainId: h.tn.chainId, sender: sender.publicKey, nonce: 70, gasLimit: 1_000, contract: h.tn.keys[1]!.publicKey, method: 'm' },
      sender.seed,
    );
    call.writeUInt32LE(call.length + 1, CtxOff.LENGTH);
    const unframed = await postTx(h.base, Buffer.concat([transfer(h.tn, 0, 1, 71), call]), 'application/octet-stream');
    expectError(unframed, 400, 'BAD_REQUEST');
    expect(unframed.body.error).toMatchObject({ offset: TX_SIZE, index: 1 });
  });

  test('wrong content type → 415', async () => {
    expectError(await postTx(h.base, 'hello', 'text/plain'), 415, 'UNSUPPORTED_MEDIA_TYPE');
    const r = await fetch(`${h.base}/api/v11/transactions`, { method: 'POST', body: new Uint8Array(TX_SIZE) });
    expect(r.status).toBe(415);
    await r.text();
  });
});

describe('limits and overload', () => {
  test('body over maxBodyBytes → 413 (declared length and streamed chunked body)', async () => {
    const small = await startApi({ overrides: { api: { maxBodyBytes: 4096 } } });
    try {
      expectError(await postTx(small.base, Buffer.alloc(TX_SIZE * 30), 'application/octet-stream'), 413, 'PAYLOAD_TOO_LARGE');
      // Chunked transfer (no Content-Length): the limit is enforced while streaming.
      const stream = new ReadableStream<Uint8Array>({
        start(c) {
          for (let i = 0; i < 10; i++) c.enqueue(new Uint8Array(TX_SIZE * 5));
          c.close();
        },
      });
      const r = await fetch(`${small.base}/api/v11/transactions`, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: stream,
        duplex: 'half',
      } as RequestInit).catch((e: Error) => e);
      if (!(r instanceof Error)) {
        expect(r.status).toBe(413);
        expect(((await r.json()) as any).error.code).toBe('PAYLOAD_TOO_LARGE');
      }
      expect((await getJson(`${small.base}/q/health/live`)).status).toBe(200);
    } finally {
      await small.close();
    }
  });

  test('all rejected for MEMPOOL_FULL → 503 OVERLOADED with Retry-After', async () => {
    const full = await startApi({
      wrap: (n) => override(n, { submit: async (t) => Array.from({ length: t.length / TX_SIZE }, () => ({ ok: false as const, code: 'MEMPOOL_FULL' as const })) }),
    });
    try {
      const r = await postTx(full.base, Buffer.concat([transfer(full.tn, 0, 1, 1), transfer(full.tn, 0, 1, 2)]), 'application/octet-stream');
      expectError(r, 503, 'OVERLOADED');
      expect(r.headers.get('retry-after')).toBe('1');
      expect(r.body.error.results[0].code).toBe('MEMPOOL_FULL');
    } finally {
      await full.close();
    }
  });

  test('all rejected for SENDER_QUEUE_FULL → 429; a node fault → 500 INTERNAL without internals', async () => {
    let mode: 'queue' | 'throw' = 'queue';
    const o = await startApi({
      wrap: (n) =>
        override(n, {
          submit: async (t) => {
            if (mode === 'throw') throw new Error('secret internal detail');
            return Array.from({ length: t.length / TX_SIZE }, () => ({ ok: false as const, code: 'SENDER_QUEUE_FULL' as const }));
          },
        }),
    });
    try {
      const r = await postTx(o.base, transfer(o.tn, 0, 1, 1), 'application/octet-stream');
      expectError(r, 429, 'OVERLOADED');
      expect(r.headers.get('retry-after')).toBe('1');
      mode = 'throw';
      const e = await postTx(o.base, transfer(o.tn, 0, 1, 1), 'application/octet-stream');
      expectError(e, 500, 'INTERNAL');
      expect(JSON.stringify(e.body)).not.toContain('secret');
    } finally {
      await o.close();
    }
  });
});

describe('health and metrics', () => {
  test('MicroProfile Health shape on /q/health, /live, /ready', async () => {
    for (const p of ['/q/health', '/q/health/live', '/q/health/ready']) {
      const r = await getJson(`${h.base}${p}`);
      expect(r.status).toBe(200);
      expect(r.body.status).toBe('UP');
      expect(Array.isArray(r.body.checks)).toBe(true);
      expect(r.body.checks.length).toBeGreaterThan(0);
      for (const c of r.body.checks) {
        expect(typeof c.name).toBe('string');
        expect(['UP', 'DOWN']).toContain(c.status);
      }
    }
  });

  test('a DOWN check → 503 and status DOWN', async () => {
    const down = await startApi({
      wrap: (n) => override(n, { health: () => ({ live: n.health().live, ready: [{ name: 'storage', status: 'DOWN', data: { reason: 'test' } }] }) }),
    });
    try {
      const ready = await getJson(`${down.base}/q/health/ready`);
      expect(ready.status).toBe(503);
      expect(ready.body.status).toBe('DOWN');
      expect(ready.body.checks).toContainEqual({ name: 'storage', status: 'DOWN', data: { reason: 'test' } });
      expect((await getJson(`${down.base}/q/health`)).status).toBe(503);
      expect((await getJson(`${down.base}/q/health/live`)).status).toBe(200);
    } finally {
      await down.close();
    }
  });

  test('/q/metrics is Prometheus text with HTTP, WS and default metrics', async () => {
    await getJson(`${h.base}/api/v11/stats`);
    const r = await fetch(`${h.base}/q/metrics`);
    expect(r.status).toBe(200);
    expect(r.headers.get('content-type')).toContain('text/plain');
    const text = await r.text();
    expect(text).toContain('# TYPE hotledger_http_requests_total counter');
    expect(text).toMatch(/hotledger_http_requests_total\{method="GET",route="\/api\/v11\/stats",status="200"\} \d+/);
    expect(text).toContain('hotledger_http_request_duration_seconds_bucket');
    expect(text).toContain('hotledger_ws_connections');
    expect(text).toContain('hotledger_api_submitted_transactions_total');
    expect(text).toContain('process_cpu_user_seconds_total');
  });
});
