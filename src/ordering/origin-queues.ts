/** What became of a queued batch: certified (offered to the core in its turn) or dropped (skipped). */
export type BatchOutcome = 'certified' | 'dropped';

/**
 * What a validator knows of a batch as it joins its origin's queue. Predicates, asked lazily and
 * only as far as `knownOutcome` needs, so a node (ConsensusOrderer) and the simulator each answer
 * them over their own state and both run the one rule.
 */
export interface QueueFacts {
  /** Offered to the consensus core already. */
  offered(): boolean;
  /** In a committed block (queued or delivered) or in the ledger: its order is fixed, it is never offered. */
  ordered(): boolean;
  /** A copy is here (valid, waiting for its certificate, or being verified): its outcome is still to come. */
  held(): boolean;
  /** This validator verified it and a signature was bad. */
  refused(): boolean;
  /** Certified, with a copy valid here: offerable now. */
  certified(): boolean;
}

/**
 * The outcome of a batch joining its origin's queue, if known already; undefined while it is to
 * come (the caller settles it then). Offered already: certified. Ordered: dropped, whatever else
 * holds (a batch in the ledger offered to a restarted core would be proposed again). Gone from
 * this node before its turn (never held, refused, or dropped by intake): dropped, or the origin's
 * queue would wait for it for good. Held and certified: certified.
 */
export function knownOutcome(f: QueueFacts): BatchOutcome | undefined {
  if (f.offered()) return 'certified';
  if (f.ordered()) return 'dropped';
  if (!f.held() || f.refused()) return 'dropped';
  if (f.certified()) return 'certified';
  return undefined;
}

/**
 * The rule "an origin's batches reach the consensus core in its seal order", sans-I/O.
 *
 * A batch of an origin is offerable only once it is certified AND every earlier batch of the same
 * origin was offered or dropped. Offered out of order, a leader proposes the origin's later batch
 * first and its senders' later nonces are rejected at execution: acknowledged transfers lost, and
 * every later nonce of those senders stuck for good (the fault campaign's stall, commit b9f49fd).
 *
 * No timers: a valid batch is certified in the end (escalation reaches every honest validator) and
 * an invalid one is refused, so the caller settles every batch it pushed; one never settled blocks
 * its origin's queue for good.
 */
export class OriginQueues<K> {
  /** Per origin, its batches not yet offered or skipped, in push order, from `head` on. */
  private readonly queues = new Map<number, { keys: K[]; head: number }>();
  /** Every key queued and not yet popped: its origin, and its outcome once settled. */
  private readonly entries = new Map<K, { origin: number; outcome?: BatchOutcome }>();

  /**
   * Appends a batch of `origin` (in the order the sequencer releases it); `known` when its outcome
   * is known already. Returns the keys offerable now, in order. A key queued already is ignored.
   */
  push(origin: number, key: K, known?: BatchOutcome): K[] {
    if (this.entries.has(key)) return [];
    this.entries.set(key, { origin, outcome: known });
    let q = this.queues.get(origin);
    if (q === undefined) {
      q = { keys: [], head: 0 };
      this.queues.set(origin, q);
    }
    q.keys.push(key);
    return q.keys.length - q.head === 1 ? this.drain(origin, q) : [];
  }

  /**
   * Records a queued batch's outcome (the first one counts). Returns the keys offerable now, in
   * order. A key not queued (never pushed, or popped already) is ignored.
   */
  settle(key: K, outcome: BatchOutcome): K[] {
    const e = this.entries.get(key);
    if (e === undefined || e.outcome !== undefined) return [];
    e.outcome = outcome;
    const q = this.queues.get(e.origin)!;
    return q.keys[q.head] === key ? this.drain(e.origin, q) : [];
  }

  /** Whether `key` is queued (pushed, not yet offered or skipped). */
  has(key: K): boolean {
    return this.entries.has(key);
  }

  /** Batches queued and not yet offered or skipped (all origins). */
  get size(): number {
    return this.entries.size;
  }

  /** Per origin, how many batches wait and the unsettled one at the head they wait behind (for logs and tests). */
  waiting(): { origin: number; queued: number; head: K }[] {
    return [...this.queues].map(([origin, q]) => ({ origin, queued: q.keys.length - q.head, head: q.keys[q.head]! }));
  }

  /** Pops settled keys off the head until an unsettled one: the certified ones, in order. */
  private drain(origin: number, q: { keys: K[]; head: number }): K[] {
    const out: K[] = [];
    for (; q.head < q.keys.length; q.head++) {
      const key = q.keys[q.head]!;
      const e = this.entries.get(key)!;
      if (e.outcome === undefined) break;
      this.entries.delete(key);
      if (e.outcome === 'certified') out.push(key);
    }
    if (q.head === q.keys.length) this.queues.delete(origin);
    // Compacted now and then, not on every pop: a long queue drained one by one stays linear.
    else if (q.head >= 64 && q.head * 2 >= q.keys.length) {
      q.keys.splice(0, q.head);
      q.head = 0;
    }
    return out;
  }
}
