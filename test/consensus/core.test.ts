import { describe, expect, it } from 'vitest';
import { ConsensusCore, type ConsensusOutput } from '../../src/consensus/core.js';
import { genesisQc, hex, makeBlock, proposalSigningBytes, type ConsensusMessage } from '../../src/consensus/types.js';
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
    expect(last.send[0]!.to).toBe(2); // leader of round 2
    expect(last.persist?.lastVotedRound).toBe(1);
  });

  it('sends the vote to the leader of the next round', () => {
    const cryptos = idealCryptoSet(5, N);
    const core = new ConsensusCore({ chainId: CHAIN, validators: N, self: 3, timeoutMs: 1000, heartbeatMs: 100, crypto: cryptos[3]! });
    core.start(0);
    const out = core.onMessage(1, proposalRound1(cryptos, []), 5);
    expect(votes(out).map((s) => s.to)).toEqual([2]);
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
