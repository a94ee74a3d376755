import type { Hash } from './types.js';

/** Blocks asked for per sync-request: one chunk is verified in one go on the caller's thread. */
export const SYNC_CHUNK = 64;

export interface SyncRequest {
  peer: number;
  fromHeight: number;
  count: number;
}

interface Run {
  /** Height of the first block the next request asks for. */
  next: number;
  peer: number;
  at: number;
  /** Peers asked since the last progress: only their answers are looked at. */
  asked: Set<number>;
  /** Peers that failed in a row (no answer, nothing to give, or a chunk that does not fit). */
  misses: number;
  /** The newest block we know we lack: handed to the backward path when the run ends. */
  target: { hash: Hash; peer: number; height: number | null };
}

/**
 * Forward sync of committed blocks for a node far behind. One request is in flight at a time,
 * to one peer; a peer that does not answer within `retryMs`, has nothing, or sends a chunk that
 * does not fit is replaced by the next validator. It never holds blocks: the core verifies each
 * chunk and inserts it into its tree at once, so memory is bounded by one message.
 */
export class ForwardSync {
  private run: Run | null = null;

  constructor(
    private readonly self: number,
    private readonly n: number,
    private readonly retryMs: number,
    private readonly batch: number,
  ) {}

  get active(): boolean {
    return this.run !== null;
  }

  /**
   * Starts a run at `fromHeight` unless one is under way; either way remembers `target` (the
   * newest missing certified block, its height if known). Returns the request to send, if any.
   */
  start(fromHeight: number, peer: number, target: Run['target'], now: number): SyncRequest | null {
    if (this.run !== null) {
      if (target.height === null || this.run.target.height === null || target.height >= this.run.target.height) this.run.target = target;
      return null;
    }
    const first = peer === this.self || peer < 0 || peer >= this.n ? this.after(this.self) : peer;
    this.run = { next: fromHeight, peer: first, at: now, asked: new Set([first]), misses: 0, target };
    return this.request();
  }

  /** The height a response from `from` should start at, or null if we did not ask `from`. */
  expecting(from: number): number | null {
    return this.run?.asked.has(from) ? this.run.next : null;
  }

  /**
   * A chunk was inserted up to `next - 1`; `full` if the responder sent all we asked for.
   * Returns the next request, or null when the run is over: the target is within `batch` blocks
   * (one backward blocks-request reaches it), or a short chunk with no known target (the
   * responder is at its tip). A short chunk below a known, distant target means that peer's
   * store ends early (pruned, or a write lost in a crash): the next validator continues.
   */
  progress(next: number, full: boolean, now: number): SyncRequest | null {
    const r = this.run;
    if (r === null) return null;
    const far = r.target.height !== null && r.target.height - (next - 1) > this.batch;
    if (r.target.height !== null && !far) return null;
    if (next > r.next) {
      r.next = next;
      r.misses = 0;
      r.asked = new Set([r.peer]);
    }
    if (!full) return far ? this.miss(now) : null;
    r.at = now;
    return this.request();
  }

  /**
   * The current peer failed. Returns the request to the next validator, or null once every
   * other validator failed in a row (the run is over; the caller falls back to the backward path).
   * `restartAt` moves the run back, e.g. to just above the committed root after a chunk that did
   * not link to the tree.
   */
  miss(now: number, restartAt?: number): SyncRequest | null {
    const r = this.run;
    if (r === null) return null;
    if (++r.misses >= this.n - 1) return null;
    if (restartAt !== undefined) r.next = restartAt;
    r.peer = this.after(r.peer);
    r.at = now;
    r.asked.add(r.peer);
    return this.request();
  }

  /** Ends the run and returns its target, for the backward path. */
  finish(): Run['target'] | null {
    const t = this.run?.target ?? null;
    this.run = null;
    return t;
  }

  /** Whether the request in flight has gone unanswered for `retryMs`. */
  due(now: number): boolean {
    return this.run !== null && now >= this.run.at + this.retryMs;
  }

  nextRetryAt(): number | null {
    return this.run === null ? null : this.run.at + this.retryMs;
  }

  private request(): SyncRequest {
    const r = this.run!;
    return { peer: r.peer, fromHeight: r.next, count: SYNC_CHUNK };
  }

  private after(peer: number): number {
    let p = (peer + 1) % this.n;
    if (p === this.self) p = (p + 1) % this.n;
    return p;
  }
}
