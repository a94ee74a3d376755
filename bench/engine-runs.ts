import { performance } from 'node:perf_hooks';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Histogram } from 'hdr-histogram-js';
import { loadConfig } from '../src/config/load.js';
import type { Config } from '../src/config/schema.js';
import { startNode, type RunningNode } from '../src/node/node.js';
import { newLatencyHistogram } from '../src/node/stats.js';
import { VerifyPool } from '../src/pipeline/verify-pool.js';
import { txId } from '../src/tx/codec.js';
import { TX_ID_SIZE, TX_SIZE } from '../src/tx/layout.js';
import type { BenchWorkload } from './workload-cache.js';
import { progress } from './progress.js';
import { executePersist } from './execute-persist.js';
import { parseStageTotals, stageMeansMs, type StageTotals } from './stage-breakdown.js';
import { ThreadCpuMeter, type ThreadCpu } from './thread-cpu.js';

export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export function summarize(h: Histogram): LatencySummary {
  const ms = (v: number) => Math.round(v / 10) / 100; // µs → ms, 2 decimals
  // hdr reports a percentile as the top of its bucket: never above the exact maximum.
  const q = (p: number) => ms(Math.min(h.getValueAtPercentile(p), h.maxValue));
  return { p50: q(50), p95: q(95), p99: q(99), max: ms(h.maxValue) };
}

/** Pipeline settings a run may override (undefined: the bench profile's). */
export interface PipelineTuning {
  batchTimeoutMs?: number | undefined;
  maxInflightBatches?: number | undefined;
  executionShards?: number | undefined;
}

/** The settings a run's node really ran with (profile, HOTLEDGER_* environment and overrides applied). */
export interface RunSettings {
  pipeline: Config['pipeline'];
  storage: Config['storage'];
}

async function withNode<T>(w: BenchWorkload, threads: number, tuning: PipelineTuning, fn: (node: RunningNode, settings: RunSettings) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'hotledger-bench-'));
  const cfg = loadConfig({
    profile: 'bench',
    overrides: { node: { dataDir: dir }, pipeline: { threads, ...tuning }, chain: { chainId: w.chainId, genesis: { devnetAccounts: w.accounts.length } } },
  });
  const node = await startNode(cfg);
  try {
    return await fn(node, { pipeline: cfg.pipeline, storage: cfg.storage });
  } finally {
    await node.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface SignedRun {
  committed: number;
  rejected: number;
  seconds: number;
  tps: number;
  /** Offered rate (tx/s) for a fixed-rate run; 0 = as fast as the node admits. */
  offered: number;
  latencyMs: LatencySummary;
  settings: RunSettings;
  /** Where a local batch's time went (hotledger_stage_seconds), mean ms per batch over the recorded part of the run. */
  stagesMs: Record<string, { meanMs: number; samples: number }>;
  /** CPU µs per committed transaction on the verify workers, the main thread and every other thread (Linux only). */
  cpuUsPerTx: ThreadCpu | undefined;
}

/**
 * Drives the workload through the real pipeline (admission with pool verify → ledger thread →
 * durable LMDB) and measures submission→durable-commit latency per transaction. With `rate` > 0
 * each tx has an intended send time i/rate and its latency is measured from that time, so a
 * stalled sender cannot hide queueing (coordinated omission).
 */
export function signedRun(
  w: BenchWorkload,
  threads: number,
  rate: number,
  tuning: PipelineTuning = {},
  count = w.count,
  label = rate ? 'fixed-rate run' : 'saturation run',
): Promise<SignedRun> {
  return withNode(w, threads, tuning, async (node, settings) => {
    const hist = newLatencyHistogram();
    // The bench's own per-transaction bookkeeping runs on the node's main thread and takes CPU from
    // verification on two cores: a number-keyed index and a flat array of send times instead of a
    // Map keyed by 32-byte strings (a string built per transaction on commit).
    const index = idIndex(w.txs, count);
    const sentAt = new Float64Array(count).fill(Number.NaN);
    // A fixed-rate run records latency only after its first second: a fresh node's cold account
    // cache and JIT are not the steady state the figure describes. Saturation records everything.
    let recordFrom = 0;
    let committed = 0;
    let rejected = 0;
    let lastCommit = 0;
    const bar = progress(label, count);
    node.onBlock((e) => {
      const now = performance.now();
      for (let i = 0; i < e.statuses.length; i++) {
        const at = index.get(e.txIds.readUIntLE(i * TX_ID_SIZE, ID_PREFIX));
        if (at === undefined) continue;
        const t = sentAt[at]!;
        if (t >= recordFrom) hist.recordValue(Math.max(1, Math.round((now - t) * 1000)));
        sentAt[at] = Number.NaN;
      }
      committed += e.block.committed;
      rejected += e.block.rejected;
      lastCommit = now;
      bar.update(committed + rejected);
    });
    const chunk = rate ? Number.MAX_SAFE_INTEGER : 2_000;
    let sent = 0;
    let refused = 0;
    const cpu = new ThreadCpuMeter();
    const t0 = performance.now();
    let stagesBefore: StageTotals = parseStageTotals(await node.metrics.metrics());
    if (rate) {
      recordFrom = t0 + 1_000;
      setTimeout(() => void node.metrics.metrics().then((m) => (stagesBefore = parseStageTotals(m))), 1_000);
    }
    // Saturation keeps this many transactions in admission at once: enough to keep every worker
    // busy, below mempool.maxUnverified so the run measures the engine, not refusals.
    const maxOutstanding = 50_000;
    let outstanding = 0;
    const submissions: Promise<void>[] = [];
    await new Promise<void>((resolve) => {
      const step = () => {
        const now = performance.now();
        const due = rate ? Math.min(count, Math.floor(((now - t0) * rate) / 1000)) : Math.min(count, sent + chunk);
        if (due > sent && (rate || outstanding < maxOutstanding)) {
          const from = sent;
          outstanding += due - from;
          submissions.push(
            node.submit(w.txs.subarray(from * TX_SIZE, due * TX_SIZE)).then((res) => {
              outstanding -= res.length;
              for (let i = 0; i < res.length; i++) {
                if (res[i]!.ok) sentAt[from + i] = rate ? t0 + ((from + i) * 1000) / rate : now;
                else refused++;
              }
            }),
          );
          sent = due;
        }
        if (sent >= count) resolve();
        else if (rate || outstanding >= maxOutstanding) setTimeout(step, 1);
        else setImmediate(step);
      };
      step();
    });
    await Promise.all(submissions);
    await node.idle();
    const cpuUsPerTx = cpu.stop(committed + rejected, threads);
    bar.stop();
    if (refused > 0) process.stderr.write(`warning: ${refused} transactions refused at admission (mempool full?)\n`);
    const seconds = (lastCommit - t0) / 1000;
    const stagesMs = stageMeansMs([stagesBefore], [parseStageTotals(await node.metrics.metrics())]);
    return { committed, rejected, seconds, tps: committed / seconds, offered: rate, latencyMs: summarize(hist), settings, stagesMs, cpuUsPerTx };
  });
}

/** Bytes of a tx id read as a number to key the bench's index (48 bits: no collision in a workload, checked). */
const ID_PREFIX = 6;

/** Workload position of each transaction, by the first ID_PREFIX bytes of its id. */
function idIndex(txs: Buffer, count: number): Map<number, number> {
  const index = new Map<number, number>();
  for (let i = 0; i < count; i++) {
    const key = txId(txs, i * TX_SIZE).readUIntLE(0, ID_PREFIX);
    if (index.has(key)) throw new Error(`bench workload: transactions ${index.get(key)} and ${i} share a ${ID_PREFIX}-byte id prefix; regenerate the workload`);
    index.set(key, i);
  }
  return index;
}

/** The verify stage alone: the workload through the piscina pool, chunking and copying included. */
export async function verifyStageRun(w: BenchWorkload, threads: number, chunkSize: number): Promise<number> {
  const pool = new VerifyPool({ threads, chunkSize });
  try {
    await pool.verify(w.txs.subarray(0, Math.min(w.count, 4 * chunkSize) * TX_SIZE), Math.min(w.count, 4 * chunkSize)); // warm-up
    const t0 = performance.now();
    const out = await pool.verify(w.txs, w.count);
    const ms = performance.now() - t0;
    if (out.some((v) => v !== 0)) throw new Error('verify stage saw invalid signatures');
    return (w.count / ms) * 1000;
  } finally {
    await pool.close();
  }
}

/**
 * Execute + persist alone (bench/execute-persist.ts): 1,000,000 pre-verified transfers over the
 * workload's accounts in blocks of `blockSize`, all handed to the ledger thread at once, timed
 * until the last block is durable. A million, not the signed workload: a run of one or two blocks
 * measured one block's latency, not the stage's rate.
 */
export async function executePersistRun(w: BenchWorkload, blockSize: number, shards: number, transfers = 1_000_000): Promise<number> {
  return (await executePersist({ chainId: w.chainId, accounts: w.accounts.length, transfers, blockSize, shards })).tps;
}
