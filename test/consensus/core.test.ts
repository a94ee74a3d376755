import { describe, expect, it } from 'vitest';
import { ConsensusCore, type ConsensusOutput } from '../../src/consensus/core.js';
import { genesisQc, hex, makeBlock, proposalSigningBytes, voteSigningBytes, type ConsensusMessage } from '../../src/consensus/types.js';
import { idealCryptoSet } from '../../src/sim/sim-crypto.js';
import { Cluster } from './cluster.js';

const CHAIN = 1;
const N = 4;
const d = (b: number): Uint8Array => new Uint8Array(32).fill(b);

function proposalRound1(cryptos: ReturnType<typeof idealCryptoSet>, payload: Uint8Array[], ts = 1): ConsensusMessage {
  const g = genesisQc(CHAIN);
  const block = makeBlock({ chainId: CHAIN, round: 1, height: 1, parentHash: g.blockHash, qc: g, payload, proposer: 1, parentStateRoot: d(0), timestampMs: ts });
  return { type: 'proposal', proposal: { block, tc: null, sig: cryptos[1]!.sign(proposalSigningBytes(CHAIN, block.hash)) } };
}

const votes = (o: ConsensusOutput) => o.send.filter((s) => s.msg.type === 'vote');

describe('ConsensusCore', () => {
  it('does not vote until every batch digest of the block is available, and asks for them', () => {
    const cryptos = idealCryptoSet(5, N);
    const core = new ConsensusCore({ chainId: CHAIN, validators: N, self: 3, timeoutMs: 1000, heartbeatMs: 100, crypto: cryptos[3]! });
    core.start(0);
    const out = core.onMessage(1, proposalRound1(cryptos, [d(1), d(2)]), 5);
    expect(votes(out)).toHaveLength(0);
    expect(out.fetchPayload).toHaveLength(1);
    expect(out.fetchPayload[0]!.from).toBe(1);
    expect(out.fetchPayload[0]!.digests.map(hex)).toEqual([hex(d(1)), hex(d(2))]);
    expect(votes(core.onPayloadAvailable(d(1), 6))).toHaveLength(0);
    const last = core.onPayloadAvailable(d(2), 7);
    expect(votes(last)).toHaveLength(1);
    expect(last.send[0]!.to).toBe('all'); // votes are broadcast
    expect(last.persist?.lastVotedRound).toBe(1);
  });

  it('broadcasts its vote, and a validator that is not the next leader forms the QC from the votes and commits without waiting for a proposal', () => {
    const cryptos = idealCryptoSet(5, N);
    const counted = { n: 0 };
    const crypto = { sign: cryptos[3]!.sign, verify: (i: number, m: Uint8Array, s: Uint8Array) => (counted.n++, cryptos[3]!.verify(i, m, s)) };
    const core = new ConsensusCore({ chainId: CHAIN, validators: N, self: 3, timeoutMs: 1000, heartbeatMs: 100, crypto });
    core.start(0);
    const p1 = proposalRound1(cryptos, [d(9)]);
    core.onPayloadAvailable(d(9), 1);
    const out = core.onMessage(1, p1, 5);
    expect(votes(out).map((s) => s.to)).toEqual(['all']);
    const b1 = p1.type === 'proposal' ? p1.proposal.block : undefined;
    const vote = (signer: number, round: number, blockHash: Uint8Array): ConsensusMessage => ({
      type: 'vote',
      vote: { round, blockHash, signer, sig: cryptos[signer]!.sign(voteSigningBytes(CHAIN, round, blockHash)) },
    });
    // Round 1: our vote plus two others is a quorum of 3; the QC moves us to round 2 at once.
    core.onMessage(0, vote(0, 1, b1!.hash), 6);
    expect(core.status().round).toBe(1);
    core.onMessage(2, vote(2, 1, b1!.hash), 7);
    expect(core.status().round).toBe(2);
    // The fourth vote of a certified round is not worth a signature check.
    const before = counted.n;
    core.onMessage(1, vote(1, 1, b1!.hash), 8);
    expect(counted.n).toBe(before);
    // Round 2 (leader 2) carries QC(1); votes for it from 0 and 1 plus ours certify it, which
    // commits block 1 here: no proposal of round 3 needed.
    const qc1 = { round: 1, blockHash: b1!.hash, signatures: [0, 2, 3].map((i) => ({ signer: i, sig: cryptos[i]!.sign(voteSigningBytes(CHAIN, 1, b1!.hash)) })) };
    const b2 = makeBlock({ chainId: CHAIN, round: 2, height: 2, parentHash: b1!.hash, qc: qc1, payload: [], proposer: 2, parentStateRoot: d(0), timestampMs: 2 });
    // The QC inside the proposal is known already: only the proposal's own signature is checked.
    const beforeProposal = counted.n;
    const o2 = core.onMessage(2, { type: 'proposal', proposal: { block: b2, tc: null, sig: cryptos[2]!.sign(proposalSigningBytes(CHAIN, b2.hash)) } }, 9);
    expect(counted.n - beforeProposal).toBe(1);
    expect(votes(o2)).toHaveLength(1);
    core.onMessage(0, vote(0, 2, b2.hash), 10);
    const o3 = core.onMessage(1, vote(1, 2, b2.hash), 11);
    expect(o3.commits.map((c) => c.block.height)).toEqual([1]);
    expect(core.status().committedHeight).toBe(1);
  });

  it('a core restarted from its persisted SafetyData refuses to vote again in the same round', () => {
    const cryptos = idealCryptoSet(6, N);
    const cfg = { chainId: CHAIN, validators: N, self: 3, timeoutMs: 1000, heartbeatMs: 100, crypto: cryptos[3]! };
    const core = new ConsensusCore(cfg);
    core.start(0);
    const out = core.onMessage(1, proposalRound1(cryptos, [], 1), 5);
    expect(votes(out)).toHaveLength(1);
    const restarted = new ConsensusCore({ ...cfg, safety: structuredClone(out.persist!) });
    restarted.start(10);
    // The Byzantine leader now shows the restarted node a different block for round 1.
    const again = restarted.onMessage(1, proposalRound1(cryptos, [], 2), 11);
    expect(votes(again)).toHaveLength(0);
  });

  it('a node restarted with an empty block tree syncs the chain from its peers and commits it', () => {
    const c = new Cluster(N, idealCryptoSet(7, N), { timeoutMs: 300, heartbeatMs: 50, delayMs: 5, loadEveryMs: 40 });
    c.runUntil(500);
    const laggard = 3;
    c.stop(laggard);
    c.runUntil(2_500);
    const others = c.commits[0]!.length;
    expect(others).toBeGreaterThan(c.commits[laggard]!.length + 5);
    // Restart from persisted safety data only: no blocks, root = its last committed block.
    const last = c.commits[laggard]!.at(-1);
    c.restart(laggard, { safety: c.persisted[laggard], root: last });
    c.runUntil(4_000);
    const mine = c.commits[laggard]!.map((x) => hex(x.block.hash));
    const theirs = c.commits[0]!.map((x) => hex(x.block.hash));
    expect(mine.length).toBeGreaterThan(others);
    expect(mine).toEqual(theirs.slice(0, mine.length));
  });

  it('ignores messages claiming to come from itself or from unknown indices', () => {
    const cryptos = idealCryptoSet(5, N);
    const core = new ConsensusCore({ chainId: CHAIN, validators: N, self: 1, timeoutMs: 1000, heartbeatMs: 100, crypto: cryptos[1]! });
    core.start(0);
    expect(core.onMessage(1, proposalRound1(cryptos, []), 1).send).toEqual([]);
    expect(core.onMessage(9, proposalRound1(cryptos, []), 1).send).toEqual([]);
  });
});
