import { Worker } from 'node:worker_threads';
import { compiledPath } from '../src/runtime/module-path.js';
import { TX_SIZE } from '../src/tx/layout.js';

/**
 * libsodium Ed25519 verifications per second on `threads` plain worker threads at once, each on
 * its own slice of the same workload (no pool, no copying on the clock): the ceiling every signed
 * throughput figure is compared with.
 */
export async function measureVerifyCeiling(txs: Buffer, count: number, threads: number): Promise<number> {
  const per = Math.floor(count / threads);
  const runs = await Promise.all(
    Array.from({ length: threads }, (_, t) => {
      const slice = new Uint8Array(txs.subarray(t * per * TX_SIZE, (t + 1) * per * TX_SIZE)); // plain copy per worker
      return new Promise<{ count: number; ms: number; invalid: number }>((resolve, reject) => {
        const w = new Worker(compiledPath('./ceiling-worker.js', import.meta.url), { workerData: { txs: slice, count: per }, transferList: [slice.buffer] });
        w.once('message', resolve);
        w.once('error', reject);
      });
    }),
  );
  if (runs.some((r) => r.invalid > 0)) throw new Error('ceiling workload has invalid signatures');
  // Threads ran side by side: the aggregate rate is the sum of their individual rates.
  return runs.reduce((s, r) => s + (r.count / r.ms) * 1000, 0);
}
