/**
 * Puts each validator's disseminated batches back in the order it sealed them.
 *
 * A batch lost when a connection drops (frames in flight on the dead socket) used to reach a
 * leader only if some proposal named it, so the origin's NEXT batch could be proposed first and
 * its senders' later nonces committed before the earlier ones (NONCE_GAP for acknowledged txs).
 * Every batch now carries its origin's boot id and sequence number; a gap holds later batches
 * back and asks the origin for the missing ones, and a gap that is not filled in time is given up
 * (the origin may have committed the batch itself; consensus then orders what is there).
 */
export interface SequencedBatch<T> {
  boot: number;
  seq: number;
  item: T;
}

/** Ask `origin` again for its sequence numbers `from`..`to` (inclusive) of boot `boot`. */
export interface GapRequest {
  origin: number;
  boot: number;
  from: number;
  to: number;
}

export interface SequencerOutput<T> {
  /** Items to offer now, in order. */
  release: T[];
  request?: GapRequest;
}

interface OriginState<T> {
  boot: number;
  next: number;
  held: Map<number, T>;
  /** When the current gap was first seen (0: no gap). */
  gapSince: number;
}

export class BatchSequencer<T> {
  private readonly origins = new Map<number, OriginState<T>>();

  /**
   * @param maxHeld later batches held per origin while a gap is open; beyond it the gap is given up
   * @param gapTimeoutMs how long a gap may stay open before the held batches are released anyway
   */
  constructor(
    private readonly maxHeld = 64,
    private readonly gapTimeoutMs = 1_000,
  ) {}

  receive(origin: number, b: SequencedBatch<T>, now: number): SequencerOutput<T> {
    let s = this.origins.get(origin);
    // First batch from this origin, or the origin restarted (new boot id): start at what came.
    if (s === undefined || s.boot !== b.boot) {
      s = { boot: b.boot, next: b.seq, held: new Map(), gapSince: 0 };
      this.origins.set(origin, s);
    }
    // Old or duplicate: pass it through; the orderer drops batches it already has by digest.
    if (b.seq < s.next) return { release: [b.item] };
    if (b.seq > s.next) {
      const opened = s.held.size === 0;
      s.held.set(b.seq, b.item);
      if (opened) s.gapSince = now;
      if (s.held.size > this.maxHeld) return { release: this.giveUp(s, now) };
      return opened ? { release: [], request: { origin, boot: s.boot, from: s.next, to: b.seq - 1 } } : { release: [] };
    }
    s.next++;
    return { release: [b.item, ...this.drain(s, now)] };
  }

  /** Gaps open longer than the timeout are given up; also re-asks for gaps still open. */
  tick(now: number): { release: { origin: number; items: T[] }[]; requests: GapRequest[] } {
    const release: { origin: number; items: T[] }[] = [];
    const requests: GapRequest[] = [];
    for (const [origin, s] of this.origins) {
      if (s.held.size === 0) continue;
      if (now - s.gapSince >= this.gapTimeoutMs) release.push({ origin, items: this.giveUp(s, now) });
      else requests.push({ origin, boot: s.boot, from: s.next, to: Math.min(...s.held.keys()) - 1 });
    }
    return { release, requests };
  }

  /** Sequence numbers still missing, per origin (for logs and tests). */
  gaps(): { origin: number; from: number; held: number }[] {
    return [...this.origins].filter(([, s]) => s.held.size > 0).map(([origin, s]) => ({ origin, from: s.next, held: s.held.size }));
  }

  /** Releases what follows `next` without a hole; a later gap that remains starts its clock now. */
  private drain(s: OriginState<T>, now: number): T[] {
    const out: T[] = [];
    for (let item = s.held.get(s.next); item !== undefined; item = s.held.get(s.next)) {
      s.held.delete(s.next);
      out.push(item);
      s.next++;
    }
    if (s.held.size === 0) s.gapSince = 0;
    else if (out.length > 0) s.gapSince = now;
    return out;
  }

  /** Skips the missing numbers: releases everything held, in order, from the lowest. */
  private giveUp(s: OriginState<T>, now: number): T[] {
    s.next = Math.min(...s.held.keys());
    return this.drain(s, now);
  }
}
