import { hex, type Block, type Hash } from './types.js';

/**
 * Batches travel out-of-band; consensus sees only their digests. This tracks which digests the
 * environment reported available, which are waiting to be proposed, and which blocks cannot be
 * voted yet because some of their batches are missing.
 */
export class PayloadTracker {
  private readonly available = new Set<string>();
  /** Insertion-ordered: proposals take the oldest digests first. */
  private readonly pending = new Map<string, Hash>();
  private readonly committed = new Set<string>();
  private readonly committedOrder: string[] = [];

  constructor(private readonly committedMemory = 100_000) {}

  /** Returns true if the digest is new to this tracker. */
  onAvailable(digest: Hash): boolean {
    const k = hex(digest);
    if (this.available.has(k)) return false;
    this.available.add(k);
    if (!this.committed.has(k)) this.pending.set(k, Uint8Array.from(digest));
    return true;
  }

  isAvailable(digest: Hash): boolean {
    return this.available.has(hex(digest));
  }

  missing(block: Block): Hash[] {
    return block.payload.filter((d) => !this.available.has(hex(d)));
  }

  hasPending(): boolean {
    return this.pending.size > 0;
  }

  /** Oldest pending digests not already in `excluded` (the uncommitted chain being extended). */
  select(excluded: Set<string>, max: number): Hash[] {
    const out: Hash[] = [];
    for (const [k, d] of this.pending) {
      if (out.length >= max) break;
      if (!excluded.has(k)) out.push(d);
    }
    return out;
  }

  onCommit(block: Block): void {
    for (const d of block.payload) {
      const k = hex(d);
      this.pending.delete(k);
      // Committed batches are not freed here: the node executes them and drops them itself.
      this.available.delete(k);
      if (this.committed.has(k)) continue;
      this.committed.add(k);
      this.committedOrder.push(k);
    }
    // Bounded memory of committed digests: a batch re-announced after this many newer commits
    // could be proposed twice; the executor must treat a repeated batch digest as a no-op.
    while (this.committedOrder.length > this.committedMemory) {
      this.committed.delete(this.committedOrder.shift()!);
    }
  }

  wasCommitted(digest: Hash): boolean {
    return this.committed.has(hex(digest));
  }
}
