/**
 * Mixed buffers of transfers and contract transactions (src/tx/frames.ts) through the pipeline's
 * stages that do not execute: framing, ids, static rules and signatures (on a real verify pool),
 * the mempool's shared nonce sequence and batch budgets, a batch's seal, the peer wire's check
 * and a peer's batch identity.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BLOCK_GAS_LIMIT, MAX_TX_GAS } from '../../src/contracts/limits.js';
import { RejectCode } from '../../src/errors.js';
import { Mempool } from '../../src/mempool/mempool.js';
import { PeerBatchIntake } from '../../src/ordering/peer-batch-intake.js';
import { parsePeerMessage } from '../../src/ordering/peer-wire.js';
import { sealBatch } from '../../src/pipeline/batch.js';
import { VerifyPool } from '../../src/pipeline/verify-pool.js';
import { CtxOff, contractTxId, signContractTx } from '../../src/tx/contract-tx.js';
import { txId } from '../../src/tx/codec.js';
import { allTransfers, frameTxs, maxBatchBytes, nonceAt, staticRejectAt, txIdAt, verifyFramed } from '../../src/tx/frames.js';
import { TX_SIZE } from '../../src/tx/layout.js';
import { signTransfer } from '../../src/tx/sign.js';
import { devnetKeys } from '../support/fixtures.js';

const CHAIN = 42;
const [alice, bob] = devnetKeys(CHAIN, 2) as [ReturnType<typeof devnetKeys>[number], ReturnType<typeof devnetKeys>[number]];
const CODE = Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);

const transfer = (nonce: number, from = alice) =>
  signTransfer({ chainId: CHAIN, sender: from.publicKey, recipient: (from === alice ? bob : alice).publicKey, amount: 5, nonce }, from.seed);
const deploy = (nonce: number, gasLimit = 1_000_000, from = alice) =>
  signContractTx({ kind: 'deploy', chainId: CHAIN, sender: from.publicKey, nonce, gasLimit, code: CODE }, from.seed);
const call = (nonce: number, gasLimit = 1_000_000, from = alice) =>
  signContractTx(
    { kind: 'call', chainId: CHAIN, sender: from.publicKey, nonce, gasLimit, contract: bob.publicKey, method: 'transfer', args: Buffer.alloc(40, 1), amount: 3 },
    from.seed,
  );

describe('framing a mixed buffer', () => {
  const parts = [transfer(1), deploy(2), transfer(3), call(4)];
  const buf = Buffer.concat(parts);

  it('finds every transaction, its id, nonce and rules', () => {
    const f = frameTxs(buf)!;
    expect(f.count).toBe(4);
    expect(f.contracts).toBe(2);
    expect([...f.offsets]).toEqual([0, TX_SIZE, TX_SIZE + parts[1]!.length, 2 * TX_SIZE + parts[1]!.length, buf.length]);
    for (let i = 0; i < 4; i++) {
      const o = f.offsets[i]!;
      const len = f.offsets[i + 1]! - o;
      expect(nonceAt(buf, o)).toBe(i + 1);
      expect(txIdAt(buf, o, len)).toEqual(i % 2 === 0 ? txId(parts[i]!) : contractTxId(parts[i]!));
      expect(staticRejectAt(buf, o, len, CHAIN)).toBe(0);
      expect(staticRejectAt(buf, o, len, CHAIN + 1)).toBe(RejectCode.WRONG_CHAIN);
    }
    expect(allTransfers(buf, 4)).toBe(false);
    expect(allTransfers(Buffer.concat([transfer(1), transfer(2)]), 2)).toBe(true);
  });

  it('refuses what does not frame: a truncated record, a contract length past the end, too many', () => {
    expect(frameTxs(buf.subarray(0, buf.length - 1))).toBeNull();
    const bad = Buffer.from(buf);
    bad.writeUInt32LE(buf.length * 2, TX_SIZE + CtxOff.LENGTH);
    expect(frameTxs(bad)).toBeNull();
    expect(frameTxs(buf, 3)).toBeNull();
    expect(frameTxs(buf, 4)?.count).toBe(4);
  });

  it('verifies both layouts and pins a forged one to its slot', () => {
    expect([...verifyFramed(buf, 4)]).toEqual([0, 0, 0, 0]);
    const forged = Buffer.from(buf);
    forged[forged.length - 1]! ^= 1; // the call's signature
    forged[TX_SIZE + 20]! ^= 1; // the deploy's sender
    expect([...verifyFramed(forged, 4)]).toEqual([0, RejectCode.BAD_SIGNATURE, 0, RejectCode.BAD_SIGNATURE]);
  });
});

describe('a mixed submission on the verify pool', () => {
  let pool: VerifyPool;
  beforeAll(() => {
    pool = new VerifyPool({ threads: 2, chunkSize: 2 });
  });
  afterAll(() => pool.close());

  it('cuts chunks by count across segments of both layouts', async () => {
    const a = Buffer.concat([transfer(1), deploy(2), call(3)]);
    const forged = call(4);
    forged[forged.length - 5]! ^= 1;
    const b = Buffer.concat([transfer(5), forged, transfer(6)]);
    const c = Buffer.concat(Array.from({ length: 70 }, (_, i) => transfer(10 + i, bob)));
    const out = await pool.verifySegments([
      { txs: a, count: 3 },
      { txs: b, count: 3 },
      { txs: c, count: 70 },
    ]);
    expect(out.length).toBe(76);
    expect([...out].map((v, i) => (v === 0 ? -1 : i))).toEqual([...out].map((_, i) => (i === 4 ? 4 : -1)));
  });
});

describe('the mempool with contract transactions', () => {
  const view = { committedNonce: (pk: Uint8Array) => (Buffer.from(pk).equals(Buffer.from(alice.publicKey)) ? 0 : undefined), hasTx: () => false };

  it("shares one nonce sequence between a sender's transfers and contract transactions", () => {
    const mp = new Mempool({ chainId: CHAIN, capacity: 100, maxPerSender: 10, maxNonceGap: 10 }, view);
    expect(mp.admit(call(2)).ok).toBe(true); // waits for 1
    expect(mp.readyCount).toBe(0);
    expect(mp.admit(transfer(1)).ok).toBe(true);
    expect(mp.readyCount).toBe(2);
    expect(mp.admit(deploy(2))).toMatchObject({ ok: false, code: 'NONCE_PENDING' });
    expect(mp.admit(deploy(3)).ok).toBe(true);
    const taken = mp.takeReady(10);
    expect(taken.map((e) => e.nonce)).toEqual([1, 2, 3]);
    expect(taken[1]!.tx.length).toBe(call(2).length);
    const batch = sealBatch(1, taken, 0);
    expect(frameTxs(batch.txs)?.count).toBe(3);
    expect(PeerBatchIntake.identify(batch.txs).ids).toEqual(batch.ids);
  });

  it('stops a batch at the block gas limit and keeps the rest in order', () => {
    const mp = new Mempool({ chainId: CHAIN, capacity: 100, maxPerSender: 10, maxNonceGap: 10 }, view);
    const fit = Math.floor(BLOCK_GAS_LIMIT / MAX_TX_GAS);
    for (let n = 1; n <= fit + 1; n++) expect(mp.admit(call(n, MAX_TX_GAS)).ok).toBe(true);
    expect(mp.takeReady(10).length).toBe(fit);
    expect(mp.takeReady(10).map((e) => e.nonce)).toEqual([fit + 1]);
  });

  it('stops a batch at its byte budget', () => {
    const mp = new Mempool({ chainId: CHAIN, capacity: 1000, maxPerSender: 1000, maxNonceGap: 1000 }, view);
    const max = Math.ceil(maxBatchBytes(1) / TX_SIZE) + 10;
    for (let n = 1; n <= max; n++) expect(mp.admit(transfer(n)).ok).toBe(true);
    expect(mp.takeReady(1).length).toBe(1);
    const rest = mp.takeReady(max);
    expect(rest.length).toBe(Math.min(max - 1, Math.floor(maxBatchBytes(max) / TX_SIZE)));
  });
});

describe('the peer wire', () => {
  it('carries a mixed batch and refuses one that does not frame', () => {
    const txs = Buffer.concat([transfer(1), deploy(2), call(3)]);
    const limits = { maxBatchTxs: 10, maxConsensusBytes: 1 << 20 };
    expect(parsePeerMessage({ k: 'b', txs }, limits)).toEqual({ k: 'b', txs });
    expect(() => parsePeerMessage({ k: 'b', txs: txs.subarray(0, txs.length - 3) }, limits)).toThrow(/whole number of transactions/);
    expect(() => parsePeerMessage({ k: 'b', txs }, { ...limits, maxBatchTxs: 2 })).toThrow(/at most 2/);
  });
});
