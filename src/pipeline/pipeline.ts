import { performance } from 'node:perf_hooks';
import type { Mempool } from '../mempool/mempool.js';
import type { LedgerClient, CommittedReply } from './ledger-client.js';
import type { VerifyPool } from './verify-pool.js';
import { sealBatch, type Batch } from './batch.js';

export interface PipelineOptions {
  batchSize: number;
  batchTimeoutMs: number;
  maxInflightBatches: number;
}

export interface CommittedBatch {
  batch: Batch;
  reply: CommittedReply;
  statuses: Uint8Array;
  verifyMs: number;
}

/**
 * The coordinator: seals batches from the mempool, verifies them on the pool, hands them to the
 * ledger thread strictly in order, and reports each durable block. Stages overlap: batch n+1
 * verifies while batch n executes on the ledger thread and batch n-1 is flushing.
 */
export class Pipeline {
  private seq = 0;
  private inflight = 0;
  private timer: NodeJS.Timeout | undefined;
  /** Resolves once the previous batch has been handed to the ledger thread. */
  private handedOff: Promise<void> = Promise.resolve();
  private idleWaiters: (() => void)[] = [];
  private failure: Error | undefined;
  private stopped = false;

  constructor(
    private readonly mempool: Mempool,
    private readonly verifier: VerifyPool,
    private readonly ledger: LedgerClient,
    private readonly opts: PipelineOptions,
    private readonly onCommitted: (c: CommittedBatch) => void,
    private readonly onFailure: (e: Error) => void,
  ) {}

  get inflightBatches(): number {
    return this.inflight;
  }

  /** Call after admitting transactions: seals now if a full batch is ready, else arms the timer. */
  poke(): void {
    if (this.stopped || this.failure) return;
    while (this.inflight < this.opts.maxInflightBatches && this.mempool.readyCount >= this.opts.batchSize) this.seal();
    if (this.mempool.readyCount > 0 && !this.timer && this.inflight < this.opts.maxInflightBatches) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        if (this.mempool.readyCount > 0 && this.inflight < this.opts.maxInflightBatches) this.seal();
        this.poke();
      }, this.opts.batchTimeoutMs);
    }
  }

  private seal(): void {
    const entries = this.mempool.takeReady(this.opts.batchSize);
    if (entries.length === 0) return;
    const batch = sealBatch(++this.seq, entries, performance.now());
    this.inflight++;
    const t0 = performance.now();
    let verifyMs = 0;
    const verified = this.verifier.verify(batch.txs, batch.count).then((v) => {
      verifyMs = performance.now() - t0;
      return v;
    });
    let committed!: Promise<CommittedReply>;
    // The ledger gets blocks in seal order; it starts executing n+1 as soon as n is handed over.
    this.handedOff = Promise.all([this.handedOff, verified]).then(([, v]) => {
      // ids are copied: the transferred buffers are gone from this thread, and listeners need the ids.
      committed = this.ledger.apply({ txs: batch.txs, count: batch.count, verified: v, ids: Buffer.from(batch.ids), timestamp: Date.now(), round: 0 });
    });
    this.handedOff
      .then(() => committed)
      .then(
        (reply) => {
          this.inflight--;
          this.onCommitted({ batch, reply, statuses: new Uint8Array(reply.statuses), verifyMs });
          this.poke();
          this.checkIdle();
        },
        (e: unknown) => this.fail(e as Error),
      );
  }

  /** Resolves when nothing is ready or in flight (tests, benchmarks, graceful shutdown). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return this.inflight === 0 && this.mempool.readyCount === 0;
  }

  private checkIdle(): void {
    if (!this.isIdle()) return;
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const r of w) r();
  }

  private fail(e: Error): void {
    if (this.failure) return;
    this.failure = e;
    this.stop();
    this.onFailure(e);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
