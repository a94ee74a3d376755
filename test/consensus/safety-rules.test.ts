import { describe, expect, it } from 'vitest';
import { SafetyRules, type SafetyData } from '../../src/consensus/safety-rules.js';
import { genesisQc, makeBlock, type Block, type QuorumCert, type TimeoutCert } from '../../src/consensus/types.js';

const CHAIN = 1;
const h = (b: number): Uint8Array => new Uint8Array(32).fill(b);
const qc = (round: number, hash: Uint8Array): QuorumCert => ({ round, blockHash: hash, signatures: [] });

function block(round: number, parentQc: QuorumCert, tag = 0): Block {
  return makeBlock({
    chainId: CHAIN,
    round,
    height: round,
    parentHash: parentQc.blockHash,
    qc: parentQc,
    payload: tag === 0 ? [] : [h(tag)],
    proposer: round % 4,
    parentStateRoot: h(0),
    timestampMs: 0,
  });
}

function tc(round: number, highQcRounds: number[]): TimeoutCert {
  const top = Math.max(...highQcRounds);
  return { round, timeouts: highQcRounds.map((r, signer) => ({ signer, highQcRound: r, sig: new Uint8Array(64) })), highQc: qc(top, h(top)) };
}

const fresh = (): SafetyRules => new SafetyRules(SafetyRules.initial(genesisQc(CHAIN)));

describe('SafetyRules (2-chain voting rule)', () => {
  it('votes once for a block that extends the QC of the previous round', () => {
    const s = fresh();
    const b1 = block(1, genesisQc(CHAIN));
    expect(s.voteFor(b1, null)).toEqual({ ok: true });
    expect(s.data.lastVotedRound).toBe(1);
  });

  it('refuses to vote twice in a round, even for the same block', () => {
    const s = fresh();
    const g = genesisQc(CHAIN);
    expect(s.voteFor(block(1, g, 1), null).ok).toBe(true);
    expect(s.voteFor(block(1, g, 2), null)).toEqual({ ok: false, reason: 'already-voted' });
    expect(s.voteFor(block(1, g, 1), null)).toEqual({ ok: false, reason: 'already-voted' });
  });

  it('refuses to vote in a round at or below its lock (highest QC round)', () => {
    const s = fresh();
    s.observeQc(qc(5, h(5)));
    expect(s.lockedRound).toBe(5);
    // Consecutive and never voted in round 5, but a QC of round 5 already exists.
    expect(s.voteFor(block(5, qc(4, h(4))), null)).toEqual({ ok: false, reason: 'below-lock' });
    expect(s.voteFor(block(6, qc(5, h(5))), null).ok).toBe(true);
  });

  it('after a TC, votes only for a block whose QC is at least the highest QC in the TC', () => {
    const s = fresh();
    const cert = tc(6, [3, 4, 5]);
    expect(s.voteFor(block(7, qc(4, h(4))), cert)).toEqual({ ok: false, reason: 'tc-qc-too-low' });
    expect(s.voteFor(block(7, qc(5, h(5))), cert).ok).toBe(true);
  });

  it('refuses a non-consecutive block without a TC for the previous round', () => {
    const s = fresh();
    expect(s.voteFor(block(7, qc(5, h(5))), null)).toEqual({ ok: false, reason: 'not-justified' });
    expect(
      s.voteFor(
        block(7, qc(5, h(5))),
        tc(
          5,
          [5, 5, 5].map(() => 4),
        ),
      ),
    ).toEqual({ ok: false, reason: 'not-justified' });
  });

  it('never votes in a round after signing a timeout for it, but may time out after voting', () => {
    const s = fresh();
    const g = genesisQc(CHAIN);
    expect(s.timeoutFor(1, g).ok).toBe(true);
    expect(s.voteFor(block(1, g), null)).toEqual({ ok: false, reason: 'already-voted' });
    const s2 = fresh();
    expect(s2.voteFor(block(1, g), null).ok).toBe(true);
    expect(s2.timeoutFor(1, g).ok).toBe(true);
    expect(s2.timeoutFor(1, g).ok).toBe(true); // re-broadcast of the same round
    expect(s2.timeoutFor(0, g)).toEqual({ ok: false, reason: 'timeout-stale' });
  });

  it('a timeout always carries the true highest QC, never one below the lock', () => {
    const s = fresh();
    s.observeQc(qc(5, h(5)));
    expect(s.timeoutFor(6, qc(3, h(3)))).toEqual({ ok: false, reason: 'timeout-below-lock' });
    expect(s.timeoutFor(6, qc(5, h(5))).ok).toBe(true);
  });

  it('voting raises the lock to the QC carried by the block', () => {
    const s = fresh();
    s.voteFor(block(4, qc(3, h(3))), null);
    expect(s.lockedRound).toBe(3);
  });

  it('restored from persisted data, refuses to double-vote', () => {
    const s = fresh();
    const first = block(3, qc(2, h(2)), 1);
    expect(s.voteFor(first, null).ok).toBe(true);
    // Round-trip through JSON-like storage: only the persisted record survives the crash.
    const persisted: SafetyData = structuredClone(s.data);
    const restarted = new SafetyRules(persisted);
    expect(restarted.voteFor(block(3, qc(2, h(2)), 2), null)).toEqual({ ok: false, reason: 'already-voted' });
    expect(restarted.lockedRound).toBe(2);
    expect(restarted.voteFor(block(4, qc(3, first.hash)), null).ok).toBe(true);
  });

  it('hands out copies: mutating `data` does not change the rules', () => {
    const s = fresh();
    const d = s.data as { lastVotedRound: number };
    d.lastVotedRound = 99;
    expect(s.data.lastVotedRound).toBe(0);
  });
});
