import { equalBytes, hex, type Block, type Hash, type Proposal } from './types.js';

export const SYNC_BATCH = 32;

interface Inflight {
  hash: Hash;
  peer: number;
  at: number;
}

/**
 * Fetches blocks we lack. A request names the newest missing block; the answer is its ancestry,
 * newest first, which we keep as orphans until it connects to our tree. Requests that go
 * unanswered are retried against the next validator.
 */
export class Synchronizer {
  private readonly inflight = new Map<string, Inflight>();
  /** Verified blocks whose parent we still lack, by their own hash. */
  private readonly orphans = new Map<string, Block>();
  /** Proposals waiting for their parent, by parent hash. */
  private readonly parked = new Map<string, { from: number; proposal: Proposal }[]>();

  constructor(
    private readonly self: number,
    private readonly n: number,
    private readonly retryMs: number,
  ) {}

  /** Returns the peer to ask, or null if a request for this hash is already under way. */
  request(hash: Hash, peer: number, now: number): number | null {
    const key = hex(hash);
    if (this.inflight.has(key) || this.orphans.has(key)) return null;
    const target = peer === this.self ? (this.self + 1) % this.n : peer;
    this.inflight.set(key, { hash, peer: target, at: now });
    return target;
  }

  park(from: number, p: Proposal): void {
    const key = hex(p.block.parentHash);
    // Parents are certified blocks (the caller verified the QC), so few; the cap is a backstop.
    if (!this.parked.has(key) && this.parked.size >= 64) return;
    const list = this.parked.get(key) ?? [];
    if (list.length < 4) list.push({ from, proposal: p });
    this.parked.set(key, list);
  }

  /** Proposals that were waiting for `parentHash`, now that it is in the tree. */
  unpark(parentHash: Hash): { from: number; proposal: Proposal }[] {
    const key = hex(parentHash);
    const list = this.parked.get(key) ?? [];
    this.parked.delete(key);
    return list;
  }

  /**
   * Accepts a response only if it answers an outstanding request and forms one hash-linked
   * chain (signatures were verified by the caller). Returns the chain oldest first.
   */
  accept(blocks: Block[]): Block[] | null {
    const first = blocks[0];
    if (first === undefined || !this.inflight.has(hex(first.hash))) return null;
    for (let i = 0; i + 1 < blocks.length; i++) {
      if (!equalBytes(blocks[i]!.parentHash, blocks[i + 1]!.hash)) return null;
    }
    this.inflight.delete(hex(first.hash));
    for (const b of blocks) this.orphans.set(hex(b.hash), b);
    return [...blocks].reverse();
  }

  /** The orphan whose parent is `hash`, if any: lets a connected chain be inserted upwards. */
  childOf(hash: Hash): Block | undefined {
    for (const b of this.orphans.values()) if (equalBytes(b.parentHash, hash)) return b;
    return undefined;
  }

  resolved(hash: Hash): void {
    this.orphans.delete(hex(hash));
    this.inflight.delete(hex(hash));
  }

  /** Requests to resend: each goes to the next validator after the one that did not answer. */
  due(now: number): { hash: Hash; peer: number }[] {
    const out: { hash: Hash; peer: number }[] = [];
    for (const r of this.inflight.values()) {
      if (now < r.at + this.retryMs) continue;
      let peer = (r.peer + 1) % this.n;
      if (peer === this.self) peer = (peer + 1) % this.n;
      r.peer = peer;
      r.at = now;
      out.push({ hash: r.hash, peer });
    }
    return out;
  }

  nextRetryAt(): number | null {
    let m: number | null = null;
    for (const r of this.inflight.values()) if (m === null || r.at + this.retryMs < m) m = r.at + this.retryMs;
    return m;
  }

  size(): { parked: number; orphans: number; inflight: number } {
    let parked = 0;
    for (const l of this.parked.values()) parked += l.length;
    return { parked, orphans: this.orphans.size, inflight: this.inflight.size };
  }

  /** Drops state below the committed height so a Byzantine peer cannot grow it forever. */
  prune(committedHeight: number): void {
    for (const [k, b] of this.orphans) if (b.height <= committedHeight) this.orphans.delete(k);
    if (this.orphans.size > 4 * SYNC_BATCH) this.orphans.clear();
    if (this.parked.size > 64) this.parked.clear();
    if (this.inflight.size > 64) this.inflight.clear();
  }
}
