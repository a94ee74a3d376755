import { createHash } from 'node:crypto';
import { HotledgerError } from '../errors.js';
import type { SignatureVerifier, VerifyPool } from '../pipeline/verify-pool.js';

export interface SharedVerifierOptions {
  /** Verdicts of recent batches kept after their verification ended (least recently used evicted). */
  cacheBatches: number;
}

/** How many whole-batch verifications were asked for and how many the pool actually ran. */
export interface SharedVerifyCounts {
  requested: number;
  run: number;
  /** Answered by a verification already under way (another co-hosted node asked first). */
  joined: number;
  /** Answered from the cache of recent verdicts. */
  cached: number;
}

/**
 * One verify pool for every node of a process. Co-hosted validators all receive the same peer
 * batches; a batch is verified once per process and its verdict handed to each node that asks.
 *
 * The key is a hash of the batch's full bytes, signatures included, never its digest: the digest
 * covers transaction ids only, so a forged copy has the genuine batch's digest and must not be
 * given (or give) its verdict (docs/decisions.md, "A peer's batch is verified whole").
 * Admission (verifySegments) is a node's own clients' traffic and goes straight to the pool.
 */
export class SharedVerifier implements SignatureVerifier {
  private readonly inflight = new Map<string, Promise<Uint8Array>>();
  /** Insertion order is recency order: a hit is moved to the end, the oldest is evicted first. */
  private readonly recent = new Map<string, Uint8Array>();
  private readonly counts: SharedVerifyCounts = { requested: 0, run: 0, joined: 0, cached: 0 };
  private closed = false;

  constructor(
    private readonly pool: VerifyPool,
    private readonly opts: SharedVerifierOptions,
  ) {}

  get threads(): number {
    return this.pool.threads;
  }

  get queueDepth(): number {
    return this.pool.queueDepth;
  }

  get utilization(): number {
    return this.pool.utilization;
  }

  /** The pool's count: a verdict joined or taken from the cache checked nothing and adds nothing. */
  get verifiedTxs(): number {
    return this.pool.verifiedTxs;
  }

  get stats(): Readonly<SharedVerifyCounts> {
    return { ...this.counts };
  }

  /** Each caller gets its own copy of the verdict: no node can alter what another one reads. */
  async verify(txs: Uint8Array, count: number): Promise<Uint8Array> {
    this.assertOpen();
    this.counts.requested++;
    const key = createHash('sha256').update(txs).digest('base64');
    const known = this.recent.get(key);
    if (known) {
      this.counts.cached++;
      this.recent.delete(key);
      this.recent.set(key, known);
      return known.slice();
    }
    let running = this.inflight.get(key);
    if (running) this.counts.joined++;
    else {
      this.counts.run++;
      running = this.pool.verify(txs, count);
      this.inflight.set(key, running);
      // A failed run (pool closing) is not a verdict: it is neither cached nor kept in flight.
      running.then(
        (verdict) => {
          this.inflight.delete(key);
          this.remember(key, verdict);
        },
        () => this.inflight.delete(key),
      );
    }
    return (await running).slice();
  }

  async verifySegments(segments: readonly { txs: Uint8Array; count: number }[]): Promise<Uint8Array> {
    this.assertOpen();
    return this.pool.verifySegments(segments);
  }

  /**
   * Work after close is refused, not run: piscina would quietly start new threads, outside the
   * process's budget, for a node that outlived its host's pool.
   */
  private assertOpen(): void {
    if (this.closed) throw new HotledgerError('SHUTTING_DOWN', 'the shared verify pool of this host is closed');
  }

  private remember(key: string, verdict: Uint8Array): void {
    if (this.opts.cacheBatches === 0) return;
    this.recent.set(key, verdict);
    while (this.recent.size > this.opts.cacheBatches) this.recent.delete(this.recent.keys().next().value!);
  }

  /** Only the host closes it, after every node it serves: a node never closes what it was lent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.recent.clear();
    await this.pool.close();
  }
}
