export interface OriginOrderCheckOptions {
  validators: number;
  /** Whether validator `i` is Byzantine (fixed for the run): only honest nodes and honest origins are checked. */
  byzantine: (i: number) => boolean;
  /** Each batch's origin and its number in the origin's seal order. */
  originOf: ReadonlyMap<string, number>;
  seqOf: ReadonlyMap<string, number>;
  /** A violation (InvariantChecker.onAlarm). */
  alarm: (node: number, what: string) => void;
}

/**
 * Invariant: at an honest validator, an honest origin's batches reach the core in its seal order,
 * but across a gap its sequencer gave up on. Fed each node's sequencer releases and queue offers;
 * a node's record goes with a crash, as its sequencer and queues do.
 */
export class OriginOrderCheck {
  /** Gaps honest validators' sequencers gave up on. */
  sequencerGiveUps = 0;
  /** Offers out of origin queues that were checked (honest node, honest origin). */
  queueOffers = 0;
  /**
   * Per node and origin: the sequence number of the last batch released by the sequencer and of the
   * last offered through the queue, and the numbers the sequencer gave up on ("origin:seq").
   */
  private readonly lastReleased: Map<number, number>[];
  private readonly lastOffered: Map<number, number>[];
  private readonly gaveUp: Set<string>[];

  constructor(private readonly o: OriginOrderCheckOptions) {
    this.lastReleased = Array.from({ length: o.validators }, () => new Map());
    this.lastOffered = Array.from({ length: o.validators }, () => new Map());
    this.gaveUp = Array.from({ length: o.validators }, () => new Set());
  }

  /** `node`'s sequencer released batch `k` of `origin` (in order): a hole before it is a gap given up on. */
  released(node: number, origin: number, k: string): void {
    const last = this.lastReleased[node]!;
    const seq = this.o.seqOf.get(k)!;
    const prev = last.get(origin);
    if (prev !== undefined && seq > prev + 1) {
      if (!this.o.byzantine(node)) this.sequencerGiveUps++;
      for (let g = prev + 1; g < seq; g++) this.gaveUp[node]!.add(`${origin}:${g}`);
    }
    if (prev === undefined || seq > prev) last.set(origin, seq);
  }

  /** `node` offered batch `k` to its core out of its origin's queue. */
  offered(node: number, k: string): void {
    const origin = this.o.originOf.get(k);
    const seq = this.o.seqOf.get(k);
    if (this.o.byzantine(node) || origin === undefined || seq === undefined || this.o.byzantine(origin)) return;
    this.queueOffers++;
    const last = this.lastOffered[node]!.get(origin) ?? -1;
    if (seq < last && !this.gaveUp[node]!.has(`${origin}:${seq}`))
      this.o.alarm(node, `offered origin ${origin}'s batch ${seq} to the core after its batch ${last} (out of seal order)`);
    if (seq > last) this.lastOffered[node]!.set(origin, seq);
  }

  crashed(node: number): void {
    this.lastReleased[node]!.clear();
    this.lastOffered[node]!.clear();
    this.gaveUp[node]!.clear();
  }
}
