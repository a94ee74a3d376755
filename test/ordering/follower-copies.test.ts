import { afterEach, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Ed25519ConsensusCrypto } from '../../src/consensus/crypto.js';
import { encodeCommittedBlock, genesisBlock, genesisQc, makeBlock, voteSigningBytes, type Block, type CommittedBlock, type QuorumCert } from '../../src/consensus/index.js';
import { batchContentHash, batchVoteBytes } from '../../src/ordering/batch-certificate.js';
import { FollowerOrderer } from '../../src/ordering/follower-orderer.js';
import type { OrderedBlock } from '../../src/ordering/orderer.js';
import { devnetFollowerKey, devnetValidatorKey } from '../../src/node/validator-set.js';
import { VerifyPool } from '../../src/pipeline/verify-pool.js';
import { ConsensusStore } from '../../src/storage/consensus-store.js';
import { LedgerStore } from '../../src/storage/ledger-store.js';
import { Off, TX_SIZE } from '../../src/tx/layout.js';
import { devnetKeyPair, generateTransfers } from '../../src/workload/generate.js';
import { waitFor } from '../support/cluster.js';
import { tempDir } from '../support/fixtures.js';
import { HARNESS_CHAIN as CHAIN, digestOf, fakeTransport } from '../support/orderer-harness.js';

/**
 * A business node executes certified blocks' batches without checking signatures (the quorum
 * did), but what the quorum vouched for is exact bytes: a copy served without a batch certificate
 * for its content hash is checked here, and one with a bad signature is dropped, never executed.
 * Before, a follower took any bytes whose digest matched (the digest covers ids, not signatures),
 * so a Byzantine validator could make it store and serve transfers with forged signatures.
 */
const keys = [0, 1, 2, 3].map((i) => devnetValidatorKey(CHAIN, i));
const signers = keys.map(
  (k) =>
    new Ed25519ConsensusCrypto(
      k.seed,
      keys.map((x) => x.publicKey),
    ),
);
const qcOf = (b: Block): QuorumCert => ({
  round: b.round,
  blockHash: b.hash,
  signatures: [0, 1, 2].map((s) => ({ signer: s, sig: signers[s]!.sign(voteSigningBytes(CHAIN, b.round, b.hash)) })),
});

/** Blocks 1..3 on genesis, block 1 naming the batch: records [1] with the 2-chain proof 2 commit it. */
function chainFor(digest: Uint8Array): { records: CommittedBlock[]; proof: CommittedBlock } {
  let parent = genesisBlock(CHAIN);
  let qc = genesisQc(CHAIN);
  const out: CommittedBlock[] = [];
  for (let r = 1; r <= 2; r++) {
    const block = makeBlock({
      chainId: CHAIN,
      round: r,
      height: r,
      parentHash: parent.hash,
      qc,
      payload: r === 1 ? [digest] : [],
      proposer: r % 4,
      parentStateRoot: new Uint8Array(32),
      timestampMs: 0,
    });
    qc = qcOf(block);
    out.push({ block, qc });
    parent = block;
  }
  return { records: [out[0]!], proof: out[1]! };
}

const certFor = (txs: Buffer) => {
  const d = digestOf(txs);
  const h = batchContentHash(txs);
  return { d, h, v: [0, 2], s: [0, 2].map((i) => signers[i]!.sign(batchVoteBytes(CHAIN, d, h))) };
};

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

async function follower() {
  const dir = tempDir();
  const peers = [0, 1, 2, 3].map((i) => ({ index: i, publicKey: keys[i]!.publicKey, host: '127.0.0.1', port: 1 }));
  const me = { index: 4, publicKey: devnetFollowerKey(CHAIN, 0).publicKey, host: '127.0.0.1', port: 1 };
  const store = new LedgerStore({ path: dir.path, mapSizeMb: 64 });
  const consensusStore = new ConsensusStore(dir.path, 64);
  const verifier = new VerifyPool({ threads: 1, chunkSize: 4096 });
  const net = fakeTransport();
  const o = new FollowerOrderer({
    identity: { role: 'business', index: 4, key: devnetFollowerKey(CHAIN, 0), validators: peers, followers: [me], links: peers },
    chainId: CHAIN,
    timeoutMs: 60_000,
    transport: net.transport,
    store,
    consensusStore,
    logger: pino({ level: 'silent' }),
    appliedRound: 0,
    maxBatchTxs: 100_000,
    verifier,
    onPeerDrop: (from, reason) => drops.push({ from, reason }),
  });
  const drops: { from: number; reason: string }[] = [];
  const delivered: OrderedBlock[] = [];
  o.start((b) => delivered.push(b));
  for (const v of [0, 1, 2, 3]) net.peerUp(v);
  close = async () => {
    o.stop();
    await verifier.close();
    await store.close();
    await consensusStore.close();
  };
  return { o, net, delivered, drops };
}

const settle = () => new Promise((r) => setTimeout(r, 150));

describe('a follower takes a served batch only as certified bytes, or after checking it', () => {
  const genuine = generateTransfers({ chainId: CHAIN, senders: [devnetKeyPair(CHAIN, 3)], recipients: [devnetKeyPair(CHAIN, 9).publicKey], count: 3 });
  const forged = Buffer.from(genuine);
  forged.fill(0, TX_SIZE + Off.SIGNATURE, TX_SIZE + Off.SIGNATURE + 64); // same ids and digest, a bad signature

  it('a copy with a certificate for its exact bytes: executed without a check of its own', async () => {
    const f = await follower();
    const { records, proof } = chainFor(digestOf(genuine));
    f.net.deliver(0, { k: 'fc', c: records.map(encodeCommittedBlock), p: encodeCommittedBlock(proof) });
    f.net.deliver(0, { k: 'br', txs: [genuine], c: [certFor(genuine)] });
    await waitFor(() => f.delivered.length === 1, 5_000, 'the certified copy executed');
    expect(f.o.certifiedTxs).toBe(3);
    expect(f.o.checkedTxs).toBe(0);
  });

  it("a forged copy, alone or beside the genuine bytes' certificate: checked, dropped, and the genuine copy executed", async () => {
    const f = await follower();
    const { records, proof } = chainFor(digestOf(genuine));
    f.net.deliver(0, { k: 'fc', c: records.map(encodeCommittedBlock), p: encodeCommittedBlock(proof) });
    f.net.deliver(1, { k: 'br', txs: [forged], c: [certFor(genuine)] });
    await waitFor(() => f.o.badCopies === 1, 5_000, 'the forged copy checked');
    f.net.deliver(2, { k: 'br', txs: [forged] });
    await waitFor(() => f.o.badCopies === 2, 5_000, 'the forged copy checked again');
    await settle();
    expect(f.delivered).toHaveLength(0);
    // The genuine copy served from a ledger (no certificate): checked here, then executed.
    f.net.deliver(3, { k: 'br', txs: [genuine] });
    await waitFor(() => f.delivered.length === 1, 5_000, 'the genuine copy executed');
    expect(f.o.checkedTxs).toBe(3);
    expect(Buffer.from(f.delivered[0]!.batches[0]!.batch.txs).equals(genuine)).toBe(true);
  });

  it('copies that come after the block was delivered (before the ledger applied it) are not held', async () => {
    const f = await follower();
    const { records, proof } = chainFor(digestOf(genuine));
    f.net.deliver(0, { k: 'fc', c: records.map(encodeCommittedBlock), p: encodeCommittedBlock(proof) });
    // A copy without a certificate is checked; a certified one coming meanwhile is skipped, not held beside it.
    f.net.deliver(1, { k: 'br', txs: [genuine] });
    f.net.deliver(0, { k: 'br', txs: [genuine], c: [certFor(genuine)] });
    await waitFor(() => f.delivered.length === 1, 5_000, 'the block delivered');
    expect(f.o.checkedTxs).toBe(3);
    // Late copies: the batch is no longer asked for once here, so they are unsolicited.
    f.net.deliver(2, { k: 'br', txs: [genuine], c: [certFor(genuine)] });
    f.net.deliver(3, { k: 'br', txs: [genuine] });
    await settle();
    expect(f.delivered).toHaveLength(1);
    expect(f.o.heldBatches()).toBe(0);
    expect(f.drops.filter((d) => d.reason === 'unsolicited').map((d) => d.from)).toEqual([2, 3]);
  });
});
