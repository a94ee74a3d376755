import { hex, type QuorumCert, type Timeout, type TimeoutCert, type Vote } from './types.js';

export interface EquivocationEvent {
  type: 'equivocation';
  kind: 'proposal' | 'vote';
  round: number;
  validator: number;
  hashes: [string, string];
}

/** Entries the aggregator holds, for memory accounting. */
export interface AggregatorSize {
  /** Distinct rounds with votes, and votes held over all of them. */
  voteRounds: number;
  votes: number;
  timeoutRounds: number;
  timeouts: number;
  /** (round, validator) pairs whose vote or proposal hashes are remembered. */
  seen: number;
}

/**
 * Collects already-verified votes and timeouts into certificates. Each validator counts once per
 * (round, block) or per round; a second, different vote or proposal from one key in one round is
 * reported as equivocation. Two different messages are the evidence and both are kept; a third
 * and later from the same (round, key) are dropped, so one Byzantine key holds at most two
 * entries per round however many blocks it signs.
 */
export class VoteAggregator {
  private readonly votes = new Map<string, Map<number, Uint8Array>>();
  private readonly formedQc = new Set<string>();
  private readonly timeouts = new Map<number, Map<number, Timeout>>();
  private readonly formedTc = new Set<number>();
  /** Per `round:validator`, the first two distinct block hashes it signed. */
  private readonly voteSeen = new Map<string, string[]>();
  private readonly proposalSeen = new Map<string, string[]>();

  constructor(private readonly quorum: number) {}

  /** Returns the QC the first time this vote completes a quorum for its block. */
  addVote(v: Vote, events: EquivocationEvent[]): QuorumCert | null {
    const seen = this.check(this.voteSeen, 'vote', v.round, v.signer, hex(v.blockHash));
    if (seen.event !== null) events.push(seen.event);
    if (!seen.keep) return null;
    const key = `${v.round}:${hex(v.blockHash)}`;
    let m = this.votes.get(key);
    if (m === undefined) this.votes.set(key, (m = new Map()));
    if (m.has(v.signer)) return null;
    m.set(v.signer, v.sig);
    if (m.size < this.quorum || this.formedQc.has(key)) return null;
    this.formedQc.add(key);
    const signatures = [...m].map(([signer, sig]) => ({ signer, sig })).sort((a, b) => a.signer - b.signer);
    return { round: v.round, blockHash: v.blockHash, signatures };
  }

  /** Returns the TC the first time this timeout completes a quorum for its round. */
  addTimeout(t: Timeout): TimeoutCert | null {
    let m = this.timeouts.get(t.round);
    if (m === undefined) this.timeouts.set(t.round, (m = new Map()));
    const prev = m.get(t.signer);
    // A re-broadcast may carry a higher QC; keep the highest (any one is valid for the TC).
    if (prev !== undefined && prev.highQc.round >= t.highQc.round) return null;
    m.set(t.signer, t);
    if (m.size < this.quorum || this.formedTc.has(t.round)) return null;
    this.formedTc.add(t.round);
    const timeouts = [...m.values()].map((x) => ({ signer: x.signer, highQcRound: x.highQc.round, sig: x.sig })).sort((a, b) => a.signer - b.signer);
    return { round: t.round, timeouts, highQc: this.highestReportedQc(t.round)! };
  }

  timeoutCount(round: number): number {
    return this.timeouts.get(round)?.size ?? 0;
  }

  /** Highest QC reported by the timeouts of a round: the leader after the TC must extend it. */
  highestReportedQc(round: number): QuorumCert | null {
    let best: QuorumCert | null = null;
    for (const t of this.timeouts.get(round)?.values() ?? []) if (best === null || t.highQc.round > best.round) best = t.highQc;
    return best;
  }

  /**
   * Proposals: same rule as votes. `keep` is false for a third and later distinct proposal of
   * one (round, leader): the caller drops it instead of adding it to the block tree.
   */
  checkProposal(round: number, proposer: number, blockHash: Uint8Array): { keep: boolean; event: EquivocationEvent | null } {
    return this.check(this.proposalSeen, 'proposal', round, proposer, hex(blockHash));
  }

  private check(seen: Map<string, string[]>, kind: 'proposal' | 'vote', round: number, validator: number, h: string): { keep: boolean; event: EquivocationEvent | null } {
    const key = `${round}:${validator}`;
    const prev = seen.get(key);
    if (prev === undefined) {
      seen.set(key, [h]);
      return { keep: true, event: null };
    }
    if (prev.includes(h)) return { keep: true, event: null };
    if (prev.length >= 2) return { keep: false, event: null };
    // Reported once per equivocating (round, key): the first two hashes are the evidence.
    prev.push(h);
    return { keep: true, event: { type: 'equivocation', kind, round, validator, hashes: [prev[0]!, h] } };
  }

  size(): AggregatorSize {
    let votes = 0;
    const voteRounds = new Set<number>();
    for (const [k, m] of this.votes) {
      votes += m.size;
      voteRounds.add(Number(k.slice(0, k.indexOf(':'))));
    }
    let timeouts = 0;
    for (const m of this.timeouts.values()) timeouts += m.size;
    return { voteRounds: voteRounds.size, votes, timeoutRounds: this.timeouts.size, timeouts, seen: this.voteSeen.size + this.proposalSeen.size };
  }

  /** Forget everything below `round`: those rounds can no longer produce useful certificates. */
  prune(round: number): void {
    for (const k of this.votes.keys()) if (Number(k.slice(0, k.indexOf(':'))) < round) this.votes.delete(k);
    for (const k of this.formedQc) if (Number(k.slice(0, k.indexOf(':'))) < round) this.formedQc.delete(k);
    for (const r of this.timeouts.keys()) if (r < round) this.timeouts.delete(r);
    for (const r of this.formedTc) if (r < round) this.formedTc.delete(r);
    for (const k of this.voteSeen.keys()) if (Number(k.slice(0, k.indexOf(':'))) < round) this.voteSeen.delete(k);
    for (const k of this.proposalSeen.keys()) if (Number(k.slice(0, k.indexOf(':'))) < round) this.proposalSeen.delete(k);
  }
}
