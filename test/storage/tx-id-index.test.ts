import { afterAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { Ledger } from '../../src/execution/ledger.js';
import { replayChain } from '../../src/execution/replay.js';
import { RejectCode } from '../../src/errors.js';
import { chunkKey, LedgerStore, TX_ID_CHUNK } from '../../src/storage/ledger-store.js';
import { idAt, TxIdIndex } from '../../src/storage/tx-id-index.js';
import { txId } from '../../src/tx/codec.js';
import { TX_ID_SIZE, TX_SIZE } from '../../src/tx/layout.js';
import { verifyTransactions } from '../../src/tx/verify.js';
import { generateTransfers } from '../../src/workload/generate.js';
import { devnetKeys, tempDir } from '../support/fixtures.js';

const dirs: { remove(): void }[] = [];
afterAll(() => dirs.forEach((d) => d.remove()));

describe('TxIdIndex (in-memory id → location)', () => {
  it('answers exactly when ids share their first 8 bytes, and keeps every id through growth', () => {
    const n = 5_000;
    const ids = randomBytes(n * TX_ID_SIZE);
    // Every id of the second half shares its first 8 bytes with one of the first half: the table
    // sees them as candidates and only the full-id confirmation tells them apart.
    for (let i = n / 2; i < n; i++) ids.copy(ids, i * TX_ID_SIZE, (i - n / 2) * TX_ID_SIZE, (i - n / 2) * TX_ID_SIZE + 8);
    const index = new TxIdIndex((h, p, id) => h === 1 && idAt(ids, p, id));
    for (let i = 0; i < n; i++) {
      expect(index.has(ids, i * TX_ID_SIZE)).toBe(false);
      index.add(ids, i * TX_ID_SIZE, 1, i);
    }
    expect(index.size).toBe(n);
    for (let i = 0; i < n; i++) {
      const slot = index.find(ids.subarray(i * TX_ID_SIZE, (i + 1) * TX_ID_SIZE));
      expect(slot).toBeGreaterThanOrEqual(0);
      expect([index.heightAt(slot), index.positionAt(slot)]).toEqual([1, i]);
    }
    // claim: refuses an id held already (its prefix twin too), adds a new one.
    expect(index.claim(ids, (n - 1) * TX_ID_SIZE, 2, 0)).toBe(false);
    const fresh = Buffer.concat([ids, Buffer.from(ids.subarray(0, TX_ID_SIZE))]);
    fresh[n * TX_ID_SIZE + 31] = fresh[n * TX_ID_SIZE + 31]! ^ 2;
    const withFresh = new TxIdIndex((h, p, id) => h === 1 && idAt(fresh, p, id));
    for (let i = 0; i < n; i++) withFresh.add(fresh, i * TX_ID_SIZE, 1, i);
    expect(withFresh.claim(fresh, n * TX_ID_SIZE, 1, n)).toBe(true);
    expect(withFresh.claim(fresh, n * TX_ID_SIZE, 1, n)).toBe(false);
    expect(withFresh.size).toBe(n + 1);
    const absent = Buffer.from(ids.subarray(0, TX_ID_SIZE));
    absent[31] = absent[31]! ^ 1; // same 8-byte prefix as id 0 and id n/2, another id
    expect(index.has(absent)).toBe(false);
  });
});

describe('tx ids stored per block (real ledger, real LMDB)', () => {
  const CHAIN = 14;
  const keys = devnetKeys(CHAIN, 8);
  const genesis = keys.map((k) => ({ publicKey: Buffer.from(k.publicKey), balance: 1_000_000 }));

  async function chain(dir: string, blocks: number, perBlock: number) {
    const l = await Ledger.open({ path: dir, mapSizeMb: 256, cacheSizeMb: 1, chainId: CHAIN, shards: 1, genesis });
    const txs = generateTransfers({ chainId: CHAIN, senders: keys, recipients: keys.map((k) => k.publicKey), count: blocks * perBlock });
    const all = Buffer.alloc(blocks * perBlock * TX_ID_SIZE);
    const durables: Promise<void>[] = [];
    for (let b = 0; b < blocks; b++) {
      const slice = Buffer.from(txs.subarray(b * perBlock * TX_SIZE, (b + 1) * perBlock * TX_SIZE));
      const ids = Buffer.alloc(perBlock * TX_ID_SIZE);
      for (let i = 0; i < perBlock; i++) txId(slice, i * TX_SIZE).copy(ids, i * TX_ID_SIZE);
      ids.copy(all, b * perBlock * TX_ID_SIZE);
      durables.push((await l.apply({ txs: slice, count: perBlock, verified: verifyTransactions(slice, perBlock), ids, timestamp: b, round: b + 1 })).durable);
    }
    await Promise.all(durables);
    return { l, txs, ids: all };
  }

  it('a restarted ledger rebuilds the index from the chunks: look-ups and duplicates as before the restart', async () => {
    const dir = tempDir();
    dirs.push(dir);
    // 600 transactions a block: three chunks, the last one partial.
    const { l, txs, ids } = await chain(dir.path, 3, 600);
    await l.close();
    const again = await Ledger.open({ path: dir.path, mapSizeMb: 256, cacheSizeMb: 1, chainId: CHAIN, shards: 1, genesis });
    for (const k of [0, 255, 256, 599, 600, 1_799]) {
      expect(again.store.getTxLocation(ids.subarray(k * TX_ID_SIZE, (k + 1) * TX_ID_SIZE))).toEqual({ height: 1 + Math.floor(k / 600), position: k % 600, status: 0 });
    }
    // A transaction of block 2 ordered again after the restart is a duplicate.
    const repeat = Buffer.from(txs.subarray(700 * TX_SIZE, 701 * TX_SIZE));
    const a = await again.apply({
      txs: repeat,
      count: 1,
      verified: verifyTransactions(repeat, 1),
      ids: Buffer.from(ids.subarray(700 * TX_ID_SIZE, 701 * TX_ID_SIZE)),
      timestamp: 9,
      round: 9,
    });
    expect(Array.from(a.statuses)).toEqual([RejectCode.DUPLICATE]);
    await a.durable;
    expect(replayChain(again.store, CHAIN, genesis, 1).problems).toEqual([]);
    await again.close();
  });

  it('a data dir without tx-id chunks (the earlier per-id index) gets them once at open', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const { l, ids } = await chain(dir.path, 2, 300);
    await l.close();
    const store = new LedgerStore({ path: dir.path, mapSizeMb: 256 });
    for (let h = 1; h <= 2; h++) for (let c = 0; c * TX_ID_CHUNK < 300; c++) await store.txIds.remove(chunkKey(h, c));
    await store.meta.remove('txIds');
    await store.close();
    const old = new LedgerStore({ path: dir.path, mapSizeMb: 256 });
    expect(old.getTxLocation(ids.subarray(0, TX_ID_SIZE))).toBeUndefined();
    await old.close();
    const upgraded = await Ledger.open({ path: dir.path, mapSizeMb: 256, cacheSizeMb: 1, chainId: CHAIN, shards: 1, genesis });
    expect(upgraded.store.getTxLocation(ids.subarray(450 * TX_ID_SIZE, 451 * TX_ID_SIZE))).toEqual({ height: 2, position: 150, status: 0 });
    expect(upgraded.store.getMeta<number>('txIds')).toBe(1);
    expect(replayChain(upgraded.store, CHAIN, genesis, 1).problems).toEqual([]);
    await upgraded.close();
  });
});
