import type { Block, QuorumCert, TimeoutCert } from './types.js';

/**
 * What must survive a crash. The environment writes it durably BEFORE it sends any message of the
 * same core output; a node restarted from it can never sign a vote or timeout that conflicts with
 * one it already sent.
 */
export interface SafetyData {
  version: 1;
  /** Highest round in which this node voted or signed a timeout. */
  lastVotedRound: number;
  /** Highest QC observed: the 2-chain lock. Its round is the locked round. */
  highQc: QuorumCert;
}

export type Refusal = 'already-voted' | 'below-lock' | 'not-justified' | 'tc-qc-too-low' | 'timeout-below-lock' | 'timeout-stale';

export type Decision = { ok: true } | { ok: false; reason: Refusal };

/** The voting rule as an interface, so a test can inject a deliberately broken one. */
export interface VotingRules {
  readonly data: SafetyData;
  readonly lockedRound: number;
  /** Raises the lock to qc if higher; returns whether SafetyData changed. */
  observeQc(qc: QuorumCert): boolean;
  /** Decides and, on ok, records the vote (lastVotedRound := block.round). */
  voteFor(block: Block, tc: TimeoutCert | null): Decision;
  /** Decides and, on ok, records the timeout (lastVotedRound := round). */
  timeoutFor(round: number, highQc: QuorumCert): Decision;
}

export function maxTcHighQcRound(tc: TimeoutCert): number {
  let m = 0;
  for (const t of tc.timeouts) if (t.highQcRound > m) m = t.highQcRound;
  return m;
}

/**
 * Jolteon / HotStuff-2 voting rule (2-chain):
 *  - vote at most once per round, and never in a round where a timeout was signed;
 *  - vote for B only if B extends the QC of round B.round-1, or B follows a TC of round B.round-1
 *    and B's QC is at least as high as every high-QC round reported in that TC;
 *  - a timeout always reports the node's true highest QC (never lower than the lock).
 */
export class SafetyRules implements VotingRules {
  /** Protected so the simulator's Byzantine rules can reuse the bookkeeping and drop the checks. */
  protected state: SafetyData;

  constructor(initial: SafetyData) {
    this.state = { ...initial };
  }

  static initial(genesisQc: QuorumCert): SafetyData {
    return { version: 1, lastVotedRound: 0, highQc: genesisQc };
  }

  get data(): SafetyData {
    return { ...this.state };
  }

  get lockedRound(): number {
    return this.state.highQc.round;
  }

  observeQc(qc: QuorumCert): boolean {
    if (qc.round <= this.state.highQc.round) return false;
    this.state = { ...this.state, highQc: qc };
    return true;
  }

  voteFor(block: Block, tc: TimeoutCert | null): Decision {
    if (block.round <= this.state.lastVotedRound) return { ok: false, reason: 'already-voted' };
    // A QC at or above this round exists, so the round is over; voting could only help a fork.
    if (block.round <= this.lockedRound) return { ok: false, reason: 'below-lock' };
    const direct = block.qc.round + 1 === block.round;
    if (!direct) {
      if (tc === null || tc.round + 1 !== block.round) return { ok: false, reason: 'not-justified' };
      if (block.qc.round < maxTcHighQcRound(tc)) return { ok: false, reason: 'tc-qc-too-low' };
    }
    this.observeQc(block.qc);
    this.state = { ...this.state, lastVotedRound: block.round };
    return { ok: true };
  }

  timeoutFor(round: number, highQc: QuorumCert): Decision {
    if (round < this.state.lastVotedRound) return { ok: false, reason: 'timeout-stale' };
    this.observeQc(highQc);
    if (highQc.round < this.lockedRound) return { ok: false, reason: 'timeout-below-lock' };
    this.state = { ...this.state, lastVotedRound: round };
    return { ok: true };
  }
}
