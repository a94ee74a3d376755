import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConsensusCore, type ConsensusFootprint } from '../../src/consensus/core.js';
import { genesisQc, hex, makeBlock, proposalSigningBytes, timeoutSigningBytes, voteSigningBytes, type ConsensusMessage, type QuorumCert } from '../../src/consensus/types.js';
import { idealCryptoSet } from '../../src/sim/sim-crypto.js';
import { Cluster } from './cluster.js';

const CHAIN = 1;
const N = 4;
const FLOOD = 100_000;
const digest = (s: string): Uint8Array => new Uint8Array(createHash('sha256').update(s).digest());
const junkHash = (i: number): Uint8Array => {
  const h = new Uint8Array(32);
  new DataView(h.buffer).setUint32(0, i);
  h[31] = 0xbb;
  return h;
};

/** Everything a flood could grow, as one number per structure, all of them small. */
function expectBounded(f: ConsensusFootprint): void {
  expect(f.voteRounds).toBeLessThanOrEqual(16);
  expect(f.votes).toBeLessThanOrEqual(16 * 2 * N);
  expect(f.timeoutRounds).toBeLessThanOrEqual(16);
  expect(f.timeouts).toBeLessThanOrEqual(16 * N);
  expect(f.seen).toBeLessThanOrEqual(2 * 16 * N);
  expect(f.parked).toBeLessThanOrEqual(64 * 4);
  expect(f.orphans).toBeLessThanOrEqual(4 * 32);
  expect(f.inflight).toBeLessThanOrEqual(64);
}

describe('a Byzantine flood cannot grow the core without bound', () => {
  it('100,000 votes, timeouts and proposals at far-future and at distinct rounds, and 100,000 proposals for one (round, leader)', () => {
    const cryptos = idealCryptoSet(11, N);
    const byz = 1; // leader of round 1
    const core = new ConsensusCore({ chainId: CHAIN, validators: N, self: 0, timeoutMs: 1_000, heartbeatMs: 100, crypto: cryptos[0]! });
    core.start(0);
    const g = genesisQc(CHAIN);
    const sign = cryptos[byz]!.sign;
    const send = (msg: ConsensusMessage, now = 1): void => void core.onMessage(byz, msg, now);
    for (let i = 0; i < FLOOD; i++) {
      // Votes at every round from 2 to 100,001 and at round 10^6 + i, each for a different block.
      const round = i % 2 === 0 ? 2 + i : 1_000_000 + i;
      const blockHash = junkHash(i);
      send({ type: 'vote', vote: { round, blockHash, signer: byz, sig: sign(voteSigningBytes(CHAIN, round, blockHash)) } });
    }
    for (let i = 0; i < FLOOD; i++) {
      // Validly signed timeouts, each for another round far ahead, carrying a valid (genesis) QC.
      const round = 2 + i * 7;
      send({ type: 'timeout', timeout: { round, highQc: g, signer: byz, sig: sign(timeoutSigningBytes(CHAIN, round, 0)) }, highTc: null });
    }
    for (let i = 0; i < FLOOD; i++) {
      // The Byzantine leader of round 1 signs 100,000 different blocks for its round.
      const block = makeBlock({
        chainId: CHAIN,
        round: 1,
        height: 1,
        parentHash: g.blockHash,
        qc: g,
        payload: [],
        proposer: byz,
        parentStateRoot: new Uint8Array(32),
        timestampMs: i,
      });
      send({ type: 'proposal', proposal: { block, tc: null, sig: sign(proposalSigningBytes(CHAIN, block.hash)) } });
    }
    for (let i = 0; i < FLOOD / 4; i++) {
      // Proposals for its far-future rounds (5, 9, …): justified only by a forged TC.
      const round = 5 + 4 * i;
      const fakeTc = { round: round - 1, timeouts: [0, 1, 2].map((signer) => ({ signer, highQcRound: 0, sig: new Uint8Array(64).fill(signer + 1) })), highQc: g };
      const block = makeBlock({
        chainId: CHAIN,
        round,
        height: 1,
        parentHash: g.blockHash,
        qc: g,
        payload: [],
        proposer: byz,
        parentStateRoot: new Uint8Array(32),
        timestampMs: i,
      });
      send({ type: 'proposal', proposal: { block, tc: fakeTc, sig: sign(proposalSigningBytes(CHAIN, block.hash)) } });
    }
    const f = core.memoryFootprint();
    expectBounded(f);
    // Genesis plus the two blocks that prove the equivocation; nothing else.
    expect(f.blocks).toBeLessThanOrEqual(3);
    expect(f.round).toBe(1);
    expect(core.status().equivocations).toBe(1);
  }, 120_000);

  it('honest nodes keep committing while a Byzantine validator floods them, and their state stays bounded', () => {
    const cryptos = idealCryptoSet(12, N);
    const byz = 3;
    let highQc: QuorumCert = genesisQc(CHAIN);
    // The Byzantine node sees the traffic: its timeouts carry the latest real QC, so the core
    // must verify and use that QC and still drop the far-future timeout itself.
    const watch = (_from: number, _to: number, msg: ConsensusMessage): ConsensusMessage => {
      if (msg.type === 'proposal' && msg.proposal.block.qc.round > highQc.round) highQc = msg.proposal.block.qc;
      return msg;
    };
    const c = new Cluster(N, cryptos, { timeoutMs: 500, heartbeatMs: 50, delayMs: 5, tamper: watch });
    const honest = [0, 1, 2];
    const sign = cryptos[byz]!.sign;
    let sent = 0;
    const batches: Uint8Array[] = [];
    for (let step = 0; step < 40; step++) {
      const d = digest(`batch ${step}`);
      batches.push(d);
      c.inject(d);
      c.runUntil(c.now + 50);
      for (const i of honest) {
        const round = c.cores[i]!.status().round;
        for (let k = 0; k < FLOOD / 40 / honest.length; k++) {
          const ahead = round + 20 + sent;
          const blockHash = junkHash(sent);
          c.deliver(byz, i, { type: 'vote', vote: { round: ahead, blockHash, signer: byz, sig: sign(voteSigningBytes(CHAIN, ahead, blockHash)) } });
          c.deliver(byz, i, { type: 'timeout', timeout: { round: ahead, highQc, signer: byz, sig: sign(timeoutSigningBytes(CHAIN, ahead, highQc.round)) }, highTc: null });
          // And votes inside the window, for many different blocks of one round.
          const near = round + 1;
          c.deliver(byz, i, { type: 'vote', vote: { round: near, blockHash, signer: byz, sig: sign(voteSigningBytes(CHAIN, near, blockHash)) } });
          sent++;
        }
      }
    }
    c.runUntil(c.now + 2_000);
    expect(sent).toBeGreaterThanOrEqual(FLOOD / 2);
    for (const i of honest) {
      const committed = new Set(c.commits[i]!.flatMap((x) => x.block.payload.map(hex)));
      for (const d of batches) expect(committed.has(hex(d))).toBe(true);
      expectBounded(c.cores[i]!.memoryFootprint());
    }
  }, 120_000);
});
