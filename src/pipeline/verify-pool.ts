import { Piscina } from 'piscina';
import { compiledPath } from '../runtime/module-path.js';
import { allTransfers, mustFrame } from '../tx/frames.js';
import { TX_SIZE } from '../tx/layout.js';
import type { VerifyTask } from './verify-worker.js';

/** Below this, a task's round trip (~0.2 ms) is no longer small next to its verification work. */
const MIN_CHUNK = 64;

/**
 * What a node needs from signature verification. A node either owns a VerifyPool or is handed
 * one it shares with co-hosted nodes (src/host), which it must then never close.
 */
export interface SignatureVerifier {
  readonly threads: number;
  readonly queueDepth: number;
  readonly utilization: number;
  /** Transactions whose signature this process's pool has checked (answered by a worker) since it started. */
  readonly verifiedTxs: number;
  verify(txs: Uint8Array, count: number): Promise<Uint8Array>;
  verifySegments(segments: readonly { txs: Uint8Array; count: number }[]): Promise<Uint8Array>;
}

export interface VerifyPoolOptions {
  threads: number;
  chunkSize: number;
}

/**
 * Signature verification on `threads` workers. A batch is cut into chunks; each chunk is copied
 * into its own plain buffer and transferred (never shared: libsodium and SharedArrayBuffer do not
 * mix), so the main thread never verifies and never waits on a lock.
 */
export class VerifyPool implements SignatureVerifier {
  private readonly pool: Piscina<VerifyTask, Uint8Array>;
  readonly threads: number;
  readonly chunkSize: number;
  private verified = 0;

  constructor(opts: VerifyPoolOptions) {
    this.threads = opts.threads;
    this.chunkSize = opts.chunkSize;
    this.pool = new Piscina<VerifyTask, Uint8Array>({
      filename: compiledPath('./verify-worker.js', import.meta.url),
      minThreads: opts.threads,
      maxThreads: opts.threads,
      // Workers must stay up between batches: starting one costs more than a whole chunk.
      idleTimeout: 60 * 60 * 1000,
      concurrentTasksPerWorker: 1,
    });
  }

  /** Resolves to one status byte per transaction (0 = valid signature). */
  verify(txs: Uint8Array, count: number): Promise<Uint8Array> {
    return this.verifySegments([{ txs, count }]);
  }

  /**
   * The same over several buffers taken as one run of transactions: each chunk is copied straight
   * from the segments into its own transferable buffer (one copy, never a concatenation first).
   */
  async verifySegments(segments: readonly { txs: Uint8Array; count: number }[]): Promise<Uint8Array> {
    const count = segments.reduce((s, x) => s + x.count, 0);
    const out = new Uint8Array(count);
    const tasks: Promise<void>[] = [];
    // Small batches are still spread over every worker: a batch's latency is its slowest chunk.
    const per = Math.min(this.chunkSize, Math.max(MIN_CHUNK, Math.ceil(count / this.threads)));
    // Chunks are cut by transaction count, copied by byte range: contract transactions vary in size.
    const frames = segments.map((s) => (allTransfers(s.txs, s.count) ? undefined : mustFrame(s.txs)));
    const at = (seg: number, i: number): number => frames[seg]?.offsets[i] ?? i * TX_SIZE;
    let seg = 0;
    let segAt = 0;
    for (let start = 0; start < count; start += per) {
      const n = Math.min(per, count - start);
      const parts: Uint8Array[] = [];
      let bytes = 0;
      for (let filled = 0; filled < n; ) {
        const s = segments[seg]!;
        const take = Math.min(n - filled, s.count - segAt);
        const part = s.txs.subarray(at(seg, segAt), at(seg, segAt + take));
        parts.push(part);
        bytes += part.length;
        filled += take;
        segAt += take;
        if (segAt === s.count) {
          seg++;
          segAt = 0;
        }
      }
      const chunk = new Uint8Array(bytes);
      let w = 0;
      for (const p of parts) {
        chunk.set(p, w);
        w += p.length;
      }
      tasks.push(
        this.pool.run({ txs: chunk, count: n }, { transferList: [chunk.buffer] }).then((r) => {
          out.set(r, start);
          // Counted when a worker answers: a chunk lost to a closing pool was not checked.
          this.verified += n;
        }),
      );
    }
    await Promise.all(tasks);
    return out;
  }

  get queueDepth(): number {
    return this.pool.queueSize;
  }

  get verifiedTxs(): number {
    return this.verified;
  }

  /** Piscina's own measure: share of worker capacity spent running tasks. */
  get utilization(): number {
    return this.pool.utilization;
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}
