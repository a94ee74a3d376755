import { hex, type QuorumCert, type Timeout, type TimeoutCert, type Vote } from './types.js';

export interface EquivocationEvent {
  type: 'equivocation';
  kind: 'proposal' | 'vote';
  round: number;
  validator: number;
  hashes: [string, string];
}

/**
 * Collects already-verified votes and timeouts into certificates. Each validator counts once per
 * (round, block) or per round; a second, different vote or proposal from one key in one round is
 * reported as equivocation (the first one seen is kept).
 */
export class VoteAggregator {
  private readonly votes = new Map<string, Map<number, Uint8Array>>();
  private readonly formedQc = new Set<string>();
  private readonly timeouts = new Map<number, Map<number, Timeout>>();
  private readonly formedTc = new Set<number>();
  private readonly voteSeen = new Map<string, string>();
  private readonly proposalSeen = new Map<string, string>();

  constructor(private readonly quorum: number) {}

  /** Returns the QC the first time this vote completes a quorum for its block. */
  addVote(v: Vote, events: EquivocationEvent[]): QuorumCert | null {
    const eq = this.check(this.voteSeen, 'vote', v.round, v.signer, hex(v.blockHash));
    if (eq !== null) events.push(eq);
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
    const timeouts = [...m.values()]
      .map((x) => ({ signer: x.signer, highQcRound: x.highQc.round, sig: x.sig }))
      .sort((a, b) => a.signer - b.signer);
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

  /** Proposals: same rule as votes, reported before the proposal is otherwise processed. */
  checkProposal(round: number, proposer: number, blockHash: Uint8Array): EquivocationEvent | null {
    return this.check(this.proposalSeen, 'proposal', round, proposer, hex(blockHash));
  }

  private check(seen: Map<string, string>, kind: 'proposal' | 'vote', round: number, validator: number, h: string): EquivocationEvent | null {
    const key = `${round}:${validator}`;
    const prev = seen.get(key);
    if (prev === undefined) {
      seen.set(key, h);
      return null;
    }
    if (prev === h) return null;
    // Report each equivocating (round, key) once, however many conflicting messages follow.
    seen.set(key, '!');
    return prev === '!' ? null : { type: 'equivocation', kind, round, validator, hashes: [prev, h] };
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
