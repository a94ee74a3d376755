/** What became of a queued batch: certified (offered to the core in its turn) or dropped (skipped). */
export type BatchOutcome = 'certified' | 'dropped';

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
