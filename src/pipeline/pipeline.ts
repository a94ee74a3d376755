import { performance } from 'node:perf_hooks';
import type { Mempool } from '../mempool/mempool.js';
import { TX_ID_SIZE } from '../tx/layout.js';
import type { LedgerClient, CommittedReply } from './ledger-client.js';
import { sealBatch } from './batch.js';
import type { OrderedBlock, Orderer, VerifiedBatch } from '../ordering/orderer.js';

export interface PipelineOptions {
  batchSize: number;
  batchTimeoutMs: number;
  maxInflightBatches: number;
}

export interface CommittedBlock {
  block: OrderedBlock;
  reply: CommittedReply;
  /** One byte per tx of the whole block (all batches, in order). */
  statuses: Uint8Array;
  /** Concatenated 32-byte ids of the whole block. */
  ids: Buffer;
}

/**
 * The coordinator: seals batches of verified transactions from the mempool, hands them to the
 * orderer in seal order, and applies ordered blocks on the ledger thread strictly in order.
 * Stages overlap: new transactions verify (AdmissionVerifier) while block n executes and block
 * n-1 is flushing.
 */
export class Pipeline {
  private seq = 0;
  /** Local batches sealed and not yet durable. */
  private inflight = 0;
  private timer: NodeJS.Timeout | undefined;
  private idleWaiters: (() => void)[] = [];
  private failure: Error | undefined;
  private stopped = false;

  constructor(
    private readonly mempool: Mempool,
    /** Whether admissions are still being verified (more transactions are about to be ready). */
    private readonly admissionBusy: () => boolean,
    private readonly ledger: LedgerClient,
    private readonly orderer: Orderer,
    private readonly opts: PipelineOptions,
    private readonly onCommitted: (c: CommittedBlock) => void,
    private readonly onFailure: (e: Error) => void,
  ) {
    orderer.start((block) => this.apply(block));
  }

  get inflightBatches(): number {
    return this.inflight;
  }

  /** Call after admitting transactions: seals now if a full batch is ready, else arms the timer. */
  poke(): void {
    if (this.stopped || this.failure) return;
    while (this.inflight < this.opts.maxInflightBatches && this.mempool.readyCount >= this.opts.batchSize) this.seal();
    // When admission verification is idle a partial batch is sealed at once: the timer exists to
    // amortise per-batch costs under load, and at low load it was the largest part of finality (a
    // 20 ms wait of a ~75 ms P50 on 4 validators). While transactions verify, the size/timer rule
    // applies, so batches grow with load. (Not "nothing in flight": with consensus a batch is in
    // flight for several rounds, which would leave the timer in charge at any load.)
    if (!this.admissionBusy() && this.inflight < this.opts.maxInflightBatches && this.mempool.readyCount > 0) this.seal();
    if (this.mempool.readyCount > 0 && !this.timer && this.inflight < this.opts.maxInflightBatches) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        if (this.mempool.readyCount > 0 && this.inflight < this.opts.maxInflightBatches) this.seal();
        this.poke();
      }, this.opts.batchTimeoutMs);
    }
  }

  /** Local transactions verified before they entered the mempool: a batch of them is ordered at once. */
  private seal(): void {
    const entries = this.mempool.takeReady(this.opts.batchSize);
    if (entries.length === 0) return;
    const now = performance.now();
    const batch = sealBatch(++this.seq, entries, now);
    this.inflight++;
    let verifyMs = 0;
    for (const e of entries) verifyMs += e.verifiedAt - e.admittedAt;
    this.orderer.submit({ batch, verified: new Uint8Array(batch.count), verifyMs: verifyMs / entries.length, submittedAt: now });
  }

  /** Executes and persists one ordered block; the ledger thread keeps the order of these calls. */
  private apply(block: OrderedBlock): void {
    if (this.failure) return;
    const now = performance.now();
    for (const b of block.batches) b.deliveredAt = now;
    const { txs, ids, verified, count } = concatBatches(block.batches);
    // ids are copied: the transferred buffers are gone from this thread, and listeners need the ids.
    const batches = block.batches.every((b) => b.digest) ? block.batches.map((b) => ({ digest: b.digest!, count: b.batch.count })) : undefined;
    this.ledger.apply({ txs, count, verified, ids: Buffer.from(ids), timestamp: block.timestamp, round: block.round, batches }).then(
      (reply) => {
        this.orderer.applied(reply.stateRoot, block.round);
        for (const b of block.batches) if (b.batch.entries.length > 0) this.inflight--;
        this.onCommitted({ block, reply, statuses: new Uint8Array(reply.statuses), ids });
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
    // Once stopped nothing more is sealed: idle means the sealed batches are durable.
    return this.inflight === 0 && (this.stopped || this.mempool.readyCount === 0);
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
    queueMicrotask(() => this.checkIdle());
    this.orderer.stop();
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/** One block's flat buffers; a single batch is passed through without copying. */
function concatBatches(batches: readonly VerifiedBatch[]): { txs: Buffer; ids: Buffer; verified: Uint8Array; count: number } {
  if (batches.length === 1) {
    const b = batches[0]!;
    return { txs: b.batch.txs, ids: b.batch.ids, verified: b.verified, count: b.batch.count };
  }
  const count = batches.reduce((s, b) => s + b.batch.count, 0);
  const txs = Buffer.allocUnsafe(batches.reduce((s, b) => s + b.batch.txs.length, 0));
  const ids = Buffer.allocUnsafe(count * TX_ID_SIZE);
  const verified = new Uint8Array(count);
  let at = 0;
  let byteAt = 0;
  for (const b of batches) {
    byteAt += b.batch.txs.copy(txs, byteAt);
    b.batch.ids.copy(ids, at * TX_ID_SIZE, 0, b.batch.count * TX_ID_SIZE);
    verified.set(b.verified, at);
    at += b.batch.count;
  }
  return { txs, ids, verified, count };
}
