import { afterAll, describe, expect, it } from 'vitest';
import { Ledger } from '../../src/execution/ledger.js';
import { replayChain } from '../../src/execution/replay.js';
import { RejectCode } from '../../src/errors.js';
import { txId } from '../../src/tx/codec.js';
import { Off, TX_ID_SIZE, TX_SIZE } from '../../src/tx/layout.js';
import { signTransfer } from '../../src/tx/sign.js';
import { verifyTransactions } from '../../src/tx/verify.js';
import { devnetKeys, tempDir } from '../support/fixtures.js';

const CHAIN = 12;
const keys = devnetKeys(CHAIN, 4);
const genesis = keys.map((k, i) => ({ publicKey: Buffer.from(k.publicKey), balance: i === 0 ? 100 : 1_000 }));
const dirs: { remove(): void }[] = [];
afterAll(() => dirs.forEach((d) => d.remove()));

const transfer = (from: number, to: number, amount: number, nonce: number) =>
  signTransfer({ chainId: CHAIN, sender: keys[from]!.publicKey, recipient: keys[to]!.publicKey, amount, nonce }, keys[from]!.seed);

/** The real ledger (real LMDB, the given shard count) and a helper that applies one block. */
async function ledger(shards: number) {
  const dir = tempDir();
  dirs.push(dir);
  const l = await Ledger.open({ path: dir.path, mapSizeMb: 256, cacheSizeMb: 1, chainId: CHAIN, shards, genesis });
  let round = 0;
  const durables: Promise<void>[] = [];
  const apply = async (...txs: Buffer[]) => {
    const all = Buffer.concat(txs);
    const ids = Buffer.alloc(txs.length * TX_ID_SIZE);
    for (let i = 0; i < txs.length; i++) txId(all, i * TX_SIZE).copy(ids, i * TX_ID_SIZE);
    const a = await l.apply({ txs: all, count: txs.length, verified: verifyTransactions(all, txs.length), ids, timestamp: ++round, round });
    durables.push(a.durable);
    return Array.from(a.statuses);
  };
  const settle = async () => {
    await Promise.all(durables);
    l.store.refresh();
  };
  return { l, apply, settle };
}

describe('one final outcome per transaction id (real ledger, real LMDB)', () => {
  for (const shards of [1, 3]) {
    it(`a later copy is DUPLICATE and never overwrites the record (${shards} shard${shards > 1 ? 's' : ''})`, async () => {
      const { l, apply, settle } = await ledger(shards);
      const t = transfer(1, 2, 10, 1);
      // In the same block twice, then again in the next two blocks (one of them before the first is even visible).
      expect(await apply(t, t)).toEqual([0, RejectCode.DUPLICATE]);
      expect(await apply(t)).toEqual([RejectCode.DUPLICATE]);
      await settle();
      expect(await apply(t, transfer(1, 2, 10, 2))).toEqual([RejectCode.DUPLICATE, 0]);
      await settle();
      expect(l.store.getTxLocation(txId(t))).toEqual({ height: 1, position: 0, status: 0 });
      expect(l.store.getAccount(keys[1]!.publicKey)).toMatchObject({ balance: 980, nonce: 2 });
      expect(replayChain(l.store, CHAIN, genesis, shards).problems).toEqual([]);
      await l.close();
    });
  }

  it('a rejected id is final too: funded later, the same transaction is not executed again', async () => {
    const { l, apply, settle } = await ledger(1);
    const tooMuch = transfer(0, 1, 500, 1); // account 0 holds 100
    expect(await apply(tooMuch)).toEqual([RejectCode.INSUFFICIENT_FUNDS]);
    expect(await apply(transfer(2, 0, 900, 1))).toEqual([0]);
    expect(await apply(tooMuch)).toEqual([RejectCode.DUPLICATE]);
    await settle();
    expect(l.store.getTxLocation(txId(tooMuch))).toEqual({ height: 1, position: 0, status: RejectCode.INSUFFICIENT_FUNDS });
    expect(l.store.getAccount(keys[0]!.publicKey)).toMatchObject({ balance: 1_000, nonce: 0 });
    // The sender's way forward: same nonce, another body.
    expect(await apply(transfer(0, 1, 499, 1))).toEqual([0]);
    await settle();
    expect(replayChain(l.store, CHAIN, genesis, 1).problems).toEqual([]);
    await l.close();
  });

  it('a forged copy never owns the id: the genuine copy after it in the same block executes', async () => {
    const { l, apply, settle } = await ledger(1);
    const genuine = transfer(3, 2, 7, 1);
    const forged = Buffer.from(genuine);
    forged.fill(0, Off.SIGNATURE, Off.SIGNATURE + 64);
    expect(await apply(forged, genuine)).toEqual([RejectCode.BAD_SIGNATURE, 0]);
    await settle();
    expect(l.store.getTxLocation(txId(genuine))).toEqual({ height: 1, position: 1, status: 0 });
    expect(replayChain(l.store, CHAIN, genesis, 1).problems).toEqual([]);
    await l.close();
  });
});
