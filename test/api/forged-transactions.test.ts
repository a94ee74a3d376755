import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { randomFillSync } from 'node:crypto';
import { txId, writeU53 } from '../../src/tx/codec.js';
import { Off, TX_SIZE } from '../../src/tx/layout.js';
import { LedgerStore } from '../../src/storage/ledger-store.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { contractAddress } from '../../src/contracts/state.js';
import { projectRoot } from '../../src/runtime/module-path.js';
import { contractTxId, signContractTx } from '../../src/tx/contract-tx.js';
import { frameTxs, verifyFramed } from '../../src/tx/frames.js';
import { getJson, hex, postTx, startApi, transfer, waitFor, type ApiHarness } from './support/api.js';

/** The body of `tx` with a forged signature: 64 zero bytes (or `fill`). */
function forge(tx: Buffer, fill = 0): Buffer {
  const f = Buffer.from(tx);
  f.fill(fill, Off.SIGNATURE, Off.SIGNATURE + 64);
  return f;
}
const BIN = 'application/octet-stream';

describe('forged transactions against a real node and API', () => {
  let a: ApiHarness;
  beforeAll(async () => {
    a = await startApi({ overrides: { chain: { genesis: { devnetAccounts: 6 } } } });
  });
  afterAll(async () => a?.close());

  test('a forged copy sent first cannot censor the genuine transaction (the issue 8 repro)', async () => {
    const genuine = transfer(a.tn, 0, 1, 1, 1);
    const id = hex(txId(genuine));
    const forged = await postTx(a.base, forge(genuine), BIN);
    expect(forged.status).toBe(422);
    expect(forged.body.error.results[0].code).toBe('BAD_SIGNATURE');
    // Never known: no pending entry, no tx-index record, not held as "dropped" either.
    expect((await getJson(`${a.base}/api/v11/transactions/${id}`)).status).toBe(404);
    const real = await postTx(a.base, genuine, BIN);
    expect(real.status).toBe(202);
    expect(real.body.results[0].id).toBe(id);
    const done = await waitFor(
      async () => {
        const r = await getJson(`${a.base}/api/v11/transactions/${id}`);
        return r.body?.status === 'committed' ? r.body : undefined;
      },
      15_000,
      'the genuine transaction committed',
    );
    expect(done.height).toBeGreaterThan(0);
    // A forged copy afterwards changes nothing either.
    // (now a nonce replay: the cheap rules refuse it before any signature work)
    expect((await postTx(a.base, forge(genuine, 0x55), BIN)).body.error.results[0].code).toBe('NONCE_TOO_LOW');
    expect((await getJson(`${a.base}/api/v11/transactions/${id}`)).body).toMatchObject({ status: 'committed', height: done.height, position: done.position });
    const acct = (await getJson(`${a.base}/api/v11/accounts/${hex(a.tn.keys[0]!.publicKey)}`)).body;
    expect(acct.nonce).toBe(1);
  });

  test('a forged copy of a contract deploy sent first cannot censor the genuine deploy', async () => {
    const sender = a.tn.keys[5]!; // a sender no other test here uses
    const code = readFileSync(join(projectRoot(), 'dist/contracts/token.wasm'));
    const genuine = signContractTx(
      { kind: 'deploy', chainId: a.tn.chainId, sender: sender.publicKey, nonce: 1, gasLimit: 5_000_000, code, initArgs: Buffer.alloc(8, 1) },
      sender.seed,
    );
    const id = contractTxId(genuine).toString('hex');
    const forged = Buffer.from(genuine);
    forged.fill(0, forged.length - 64);
    const f = await postTx(a.base, forged, BIN);
    expect(f.status).toBe(422);
    expect(f.body.error.results[0].code).toBe('BAD_SIGNATURE');
    expect((await getJson(`${a.base}/api/v11/transactions/${id}`)).status).toBe(404);
    expect((await postTx(a.base, genuine, BIN)).status).toBe(202);
    const done = await waitFor(
      async () => {
        const r = await getJson(`${a.base}/api/v11/transactions/${id}`);
        return r.body?.status === 'committed' ? r.body : undefined;
      },
      15_000,
      'the genuine deploy committed',
    );
    expect(done.contract).toMatchObject({ status: 'OK', address: contractAddress(sender.publicKey, 1).toString('hex') });
  });

  test("a forged transaction never takes its sender's nonce slot, even while the genuine one is in flight", async () => {
    const genuine = transfer(a.tn, 2, 3, 1, 5);
    const [f, g] = await Promise.all([postTx(a.base, forge(genuine, 7), BIN), postTx(a.base, genuine, BIN)]);
    expect(f.status).toBe(422);
    expect(g.status).toBe(202);
  });

  test('100,000 forged transactions: nothing stored, genuine traffic from other senders commits, memory bounded', async () => {
    const rss0 = process.memoryUsage().rss;
    const FORGED = 100_000;
    const PER_REQUEST = 10_000;
    // Forged transfers "from" accounts 0..2 with fresh nonces: they pass every cheap rule.
    const forgedIds: Buffer[] = [];
    const templates = [0, 1, 2].map((k) => transfer(a.tn, k, 5, 2, 1));
    const bodies: Buffer[] = [];
    for (let r = 0; r < FORGED / PER_REQUEST; r++) {
      const body = Buffer.alloc(PER_REQUEST * TX_SIZE);
      for (let i = 0; i < PER_REQUEST; i++) {
        const n = r * PER_REQUEST + i;
        const o = i * TX_SIZE;
        templates[n % 3]!.copy(body, o);
        writeU53(body, o + Off.NONCE, 2 + Math.floor(n / 3));
        randomFillSync(body, o + Off.SIGNATURE, 64); // a well-formed forgery: random signature bytes
        if (i % 1_000 === 0) forgedIds.push(txId(body, o));
      }
      bodies.push(body);
    }
    // Genuine transfers from accounts 3 and 4 go in between the floods.
    const genuine = [transfer(a.tn, 3, 5, 1, 2), transfer(a.tn, 4, 5, 1, 3), transfer(a.tn, 3, 5, 2, 4), transfer(a.tn, 4, 5, 2, 5)];
    const results = await Promise.all([
      ...bodies.map((b) => postTx(a.base, b, BIN, '?results=none')),
      ...genuine.map((g, i) => new Promise((r) => setTimeout(r, 50 * i)).then(() => postTx(a.base, g, BIN))),
    ]);
    for (const r of results.slice(0, bodies.length)) {
      // Every forgery refused: 422 (BAD_SIGNATURE), or 503/429 back-pressure; never accepted.
      expect([422, 429, 503]).toContain(r.status);
    }
    for (const r of results.slice(bodies.length)) expect(r.status).toBe(202);
    for (const g of genuine) {
      await waitFor(async () => ((await getJson(`${a.base}/api/v11/transactions/${hex(txId(g))}`)).body?.status === 'committed' ? true : undefined), 30_000, 'genuine committed');
    }
    for (const id of forgedIds) expect((await getJson(`${a.base}/api/v11/transactions/${hex(id)}`)).status).toBe(404);
    // Nothing forged in any block: every stored transaction verifies.
    const stats = (await getJson(`${a.base}/api/v11/stats`)).body;
    expect(stats.mempool.size).toBe(0);
    const store = new LedgerStore({ path: a.tn.config.node.dataDir, mapSizeMb: a.tn.config.storage.mapSizeMb });
    try {
      let stored = 0;
      for (let h = 1; h <= stats.height; h++) {
        const payload = store.getPayload(h) ?? Buffer.alloc(0);
        const frames = frameTxs(payload);
        expect(frames, `block ${h} frames`).not.toBeNull();
        expect([...verifyFramed(payload, frames!.count)].every((v) => v === 0)).toBe(true);
        stored += frames!.count;
      }
      expect(stored).toBe(stats.committedTxs + stats.rejectedTxs);
      expect(stats.rejectedTxs).toBe(0);
    } finally {
      await store.close();
    }
    // Memory: the forged bodies (17 MB) and their verification, not a copy per forgery kept.
    expect(process.memoryUsage().rss - rss0).toBeLessThan(300 * 1024 * 1024);
  }, 120_000);
});
