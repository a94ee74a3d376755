import type { SignatureVerifier } from './verify-pool.js';

interface Waiting {
  txs: Buffer;
  count: number;
  resolve: (verified: Uint8Array) => void;
  reject: (e: unknown) => void;
}

export interface AdmissionVerifierOptions {
  /** Transactions queued or being verified at once; beyond it `verify` refuses (back-pressure). */
  maxQueuedTxs: number;
  /** Largest coalesced verification handed to the pool at once. */
  maxFlushTxs: number;
}

/**
 * Signature verification in front of the mempool: a transaction enters the mempool only once its
 * signature verified, so a forged copy can never hold a nonce slot or a tx id (see Mempool.admit).
 *
 * Submissions are coalesced: whatever arrived in one event-loop turn goes to the pool as one
 * verification, and while two are running new arrivals accumulate into the next. So one
 * transaction per request costs one pool round trip per turn, not per transaction, and under load
 * the flushes grow towards `maxFlushTxs` by themselves. The queue is bounded: past
 * `maxQueuedTxs` a submission is refused at once rather than buffered.
 */
export class AdmissionVerifier {
  private queue: Waiting[] = [];
  /** Transactions accepted and not yet answered (queued or on the pool). */
  private outstanding = 0;
  private running = 0;
  private scheduled = false;
  private static readonly MAX_RUNNING = 2;

  constructor(
    private readonly pool: SignatureVerifier,
    private readonly opts: AdmissionVerifierOptions,
  ) {}

  /** Transactions waiting for or in verification. */
  get pending(): number {
    return this.outstanding;
  }

  /** Whether verification work is under way (more admissions are about to arrive). */
  get busy(): boolean {
    return this.outstanding > 0;
  }

  /**
   * One status byte per transaction (0 = valid signature), or undefined when the queue is full.
   * `txs` is read (copied into pool tasks) and not kept.
   */
  verify(txs: Buffer, count: number): Promise<Uint8Array> | undefined {
    if (count === 0) return Promise.resolve(new Uint8Array(0));
    if (this.outstanding + count > this.opts.maxQueuedTxs) return undefined;
    this.outstanding += count;
    const p = new Promise<Uint8Array>((resolve, reject) => this.queue.push({ txs, count, resolve, reject }));
    this.schedule();
    return p;
  }

  private schedule(): void {
    if (this.scheduled || this.queue.length === 0 || this.running >= AdmissionVerifier.MAX_RUNNING) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    if (this.queue.length === 0 || this.running >= AdmissionVerifier.MAX_RUNNING) return;
    const take: Waiting[] = [];
    let total = 0;
    // At least one submission, however large (the API bounds its size); then whole ones up to the cap.
    while (this.queue.length > 0 && (take.length === 0 || total + this.queue[0]!.count <= this.opts.maxFlushTxs)) {
      const w = this.queue.shift()!;
      take.push(w);
      total += w.count;
    }
    this.running++;
    this.pool
      .verifySegments(take)
      .then(
        (verified) => {
          let at = 0;
          for (const w of take) {
            w.resolve(verified.slice(at, at + w.count));
            at += w.count;
          }
        },
        (e: unknown) => {
          for (const w of take) w.reject(e);
        },
      )
      .finally(() => {
        this.running--;
        this.outstanding -= total;
        this.schedule();
      });
  }
}
