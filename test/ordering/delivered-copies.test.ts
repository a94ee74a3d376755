import { afterEach, describe, expect, it } from 'vitest';
import { encodeCommittedBlock } from '../../src/consensus/codec.js';
import { genesisBlock, genesisQc, makeBlock } from '../../src/consensus/types.js';
import { verifierOrder } from '../../src/ordering/batch-certificate.js';
import { devnetKeyPair, generateTransfers } from '../../src/workload/generate.js';
import { waitFor } from '../support/cluster.js';
import { HARNESS_CHAIN as CHAIN, digestOf, ordererHarness, type OrdererHarness } from '../support/orderer-harness.js';

let h: OrdererHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** Transfers from validator 2 for which validator 1 (the harness) is (or is not) among the f + 1 designated verifiers. */
const batchFor = (designated: boolean): Buffer => {
  for (let r = 700; ; r++) {
    const txs = generateTransfers({ chainId: CHAIN, senders: [devnetKeyPair(CHAIN, 11)], recipients: [devnetKeyPair(CHAIN, r).publicKey], count: 3 });
    if (verifierOrder(digestOf(txs), 2, 4).slice(0, 2).includes(1) === designated) return txs;
  }
};

/** Blocks 1, 2, ... (proposer 2), each naming one batch, committed but not applied: what a restarted validator re-queues. */
const unappliedBlocks = (...batches: Buffer[]) => {
  let parent = genesisBlock(CHAIN);
  return batches.map((txs, i) => {
    const block = makeBlock({
      chainId: CHAIN,
      round: i + 1,
      height: i + 1,
      parentHash: parent.hash,
      qc: i === 0 ? genesisQc(CHAIN) : { round: parent.round, blockHash: parent.hash, signatures: [] },
      payload: [digestOf(txs)],
      proposer: 2,
      parentStateRoot: new Uint8Array(32),
      timestampMs: 0,
    });
    parent = block;
    return encodeCommittedBlock({ block, qc: { round: block.round, blockHash: block.hash, signatures: [] } });
  });
};
const asked = (x: OrdererHarness, txs: Buffer): boolean => x.net.sent.some((s) => s.msg.k === 'bq' && (s.msg.d as Uint8Array[]).some((d) => Buffer.from(d).equals(digestOf(txs))));

describe('a copy of a batch that arrives after its block was delivered', () => {
  // The window between the block's delivery to the pipeline and the ledger's apply: the batch is
  // released already and the ledger does not have it yet. A copy taken in then was held for good
  // (unproven, or valid here once verified), its certificate asked for, and charged to its origin's
  // intake bound.
  it.each([
    ['not a designated verifier (held for a certificate)', false],
    ['a designated verifier (verified here)', true],
  ])('is not held where this validator is %s', async (_name, designated) => {
    const txs = batchFor(designated);
    h = await ordererHarness({ before: ({ consensusStore }) => consensusStore.putDurable({ 'consensus/unapplied': unappliedBlocks(txs) }) });
    // The re-queued block waits for its batch and asks a peer for it; the answer comes without a
    // certificate, so the batch (of a committed block) is verified here and the block delivered.
    const ask = h.net.sent.find((s) => s.msg.k === 'bq');
    expect(ask).toBeDefined();
    h.net.deliver(ask!.to as number, { k: 'br', txs: [txs] });
    await waitFor(() => h!.delivered.length === 1, 5_000, 'the re-queued block delivered');
    expect(h.o.heldBatches()).toEqual({ held: 0, unproven: 0 });
    // A late broadcast copy from the batch's origin, before the ledger applied the block.
    h.net.deliver(2, { k: 'b', txs });
    await new Promise((r) => setTimeout(r, 300));
    h.o.applied(new Uint8Array(32), 1);
    expect(h.o.heldBatches()).toEqual({ held: 0, unproven: 0 });
    expect(h.delivered).toHaveLength(1);
    expect(h.drops).toEqual([]);
  });

  it('a copy of a batch whose block is committed but still queued is held: the block does not fetch it again', async () => {
    const [first, second] = [batchFor(false), batchFor(true)];
    h = await ordererHarness({ before: ({ consensusStore }) => consensusStore.putDurable({ 'consensus/unapplied': unappliedBlocks(first, second) }) });
    // Block 2's batch comes as its origin's broadcast while block 1 waits for its own: ordered, not
    // asked for (only the head block's are), not delivered. It is kept.
    expect(asked(h, first)).toBe(true);
    h.net.deliver(2, { k: 'b', txs: second });
    await waitFor(() => h!.o.heldBatches().held === 1, 5_000, "block 2's batch verified here");
    h.net.deliver(2, { k: 'br', txs: [first] });
    await waitFor(() => h!.delivered.length === 2, 5_000, 'both blocks delivered');
    expect(asked(h, second)).toBe(false);
    h.o.applied(new Uint8Array(32), 2);
    expect(h.o.heldBatches()).toEqual({ held: 0, unproven: 0 });
  });
});
