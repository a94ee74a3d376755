import { describe, it, expect, afterAll } from 'vitest';
import { generateTransfers, devnetKeyPair } from '../../src/workload/generate.js';
import { sealBatch } from '../../src/pipeline/batch.js';
import { txId } from '../../src/tx/codec.js';
import { TX_SIZE } from '../../src/tx/layout.js';
import { HARNESS_CHAIN, ordererHarness } from '../support/orderer-harness.js';

const CHAIN = HARNESS_CHAIN;
const closers: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const c of closers) await c();
});

async function orderer() {
  const h = await ordererHarness();
  closers.push(h.close);
  return h;
}

const batchTxs = (k: number) => generateTransfers({ chainId: CHAIN, senders: [devnetKeyPair(CHAIN, k)], recipients: [devnetKeyPair(CHAIN, 99).publicKey], count: 3 });
const settle = () => new Promise((r) => setTimeout(r, 300));

describe('ConsensusOrderer: batches lost in transit are asked for again by sequence number', () => {
  it('asks the origin for a missing sequence number when a later batch arrives first', async () => {
    const { net } = await orderer();
    net.deliver(2, { k: 'b', txs: batchTxs(1), i: 42, n: 1 });
    net.deliver(2, { k: 'b', txs: batchTxs(3), i: 42, n: 3 });
    await settle();
    const asks = net.sent.filter((s) => s.msg.k === 'bn');
    expect(asks).toEqual([{ to: 2, msg: { k: 'bn', i: 42, f: 2, t: 2 } }]);
  });

  it('answers a request for its own batches with the same bytes and sequence numbers', async () => {
    const { o, net } = await orderer();
    const submitted: Buffer[] = [];
    for (let k = 0; k < 3; k++) {
      const txs = batchTxs(10 + k);
      submitted.push(txs);
      const entries = Array.from({ length: 3 }, (_, i) => ({
        tx: txs.subarray(i * TX_SIZE, (i + 1) * TX_SIZE),
        id: txId(txs, i * TX_SIZE),
        idKey: '',
        sender: undefined as never,
        nonce: 0,
        admittedAt: 0,
        verifiedAt: 0,
      }));
      o.submit({ batch: sealBatch(k + 1, entries, 0), verified: new Uint8Array(3).fill(1), verifyMs: 0 });
    }
    const broadcasts = net.sent.filter((s) => s.to === 'all' && s.msg.k === 'b');
    expect(broadcasts.map((b) => b.msg.n)).toEqual([1, 2, 3]);
    const boot = broadcasts[0]!.msg.i as number;
    net.sent.length = 0;
    net.deliver(3, { k: 'bn', i: boot, f: 2, t: 3 });
    net.deliver(3, { k: 'bn', i: boot + 1, f: 1, t: 3 }); // another boot of ours: nothing
    const resent = net.sent.filter((s) => s.msg.k === 'b');
    expect(resent.map((s) => [s.to, s.msg.n])).toEqual([
      [3, 2],
      [3, 3],
    ]);
    expect(Buffer.from(resent[0]!.msg.txs as Uint8Array).equals(submitted[1]!)).toBe(true);
  });
});
