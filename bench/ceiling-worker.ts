import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { verifyTransactions } from '../src/tx/verify.js';

/** Verifies its share of the workload with nothing else around it: the machine's verify ceiling. */
const { txs, count } = workerData as { txs: Uint8Array; count: number };
const t0 = performance.now();
const out = verifyTransactions(txs, count);
const ms = performance.now() - t0;
parentPort!.postMessage({ count, ms, invalid: out.reduce((s, v) => s + (v === 0 ? 0 : 1), 0) });
