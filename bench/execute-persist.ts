import { performance } from 'node:perf_hooks';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Command } from 'commander';
import { positiveInt } from './args.js';
import { loadConfig } from '../src/config/load.js';
import { LedgerClient } from '../src/pipeline/ledger-client.js';
import { genesisAccounts } from '../src/chain/genesis.js';
import { txId } from '../src/tx/codec.js';
import { TX_ID_SIZE, TX_SIZE } from '../src/tx/layout.js';
import { encodeUnsigned } from '../src/tx/transaction.js';
import { LedgerStore } from '../src/storage/ledger-store.js';
import type { GenesisAccount } from '../src/chain/genesis.js';
import { availableParallelism } from 'node:os';
import { measureVerifyCeiling } from './ceiling.js';
import { loadWorkload } from './workload-cache.js';

export interface ExecutePersistResult {
  transfers: number;
  seconds: number;
  /** Transfers executed and durable per second. */
  tps: number;
  lookups: LookupRates;
}

/** Look-ups per second on the paths the tx index serves, measured on the store after the run. */
export interface LookupRates {
  /** `GET /transactions/:id` of a committed id (getTxLocation). */
  committedPerSec: number;
  /** Duplicate detection at admission of a fresh id (hasTx of an id the chain does not hold). */
  absentPerSec: number;
}

/**
 * Transfers for the execute + persist stage: pre-verified, so they carry no signature (signing a
 * million would take minutes and execution never looks at it). Senders round-robin over the
 * genesis accounts with consecutive nonces, amounts small enough never to run out of funds.
 */
export function unsignedTransfers(chainId: number, genesis: readonly GenesisAccount[], count: number): Buffer {
  const out = Buffer.alloc(count * TX_SIZE);
  const n = genesis.length;
  for (let i = 0; i < count; i++) {
    const s = i % n;
    const r = (i * 7 + 1 + Math.floor(i / n)) % n;
    encodeUnsigned(
      { chainId, sender: genesis[s]!.publicKey, recipient: genesis[r === s ? (r + 1) % n : r]!.publicKey, amount: 1 + (i % 97), nonce: 1 + Math.floor(i / n) },
      out,
      i * TX_SIZE,
    );
  }
  return out;
}

/**
 * Execute + persist alone: pre-verified blocks of `blockSize` straight to the ledger thread, all
 * handed over at once (as the pipeline overlaps them), timed until the last one is durable. Then
 * the look-up paths the tx index serves, on the same store.
 */
export async function executePersist(opts: { chainId: number; accounts: number; transfers: number; blockSize: number; shards: number }): Promise<ExecutePersistResult> {
  const dir = mkdtempSync(join(tmpdir(), 'hotledger-bench-ep-'));
  const cfg = loadConfig({ profile: 'bench', overrides: { node: { dataDir: dir }, chain: { chainId: opts.chainId, genesis: { devnetAccounts: opts.accounts } } } });
  const genesis = genesisAccounts(cfg);
  const txs = unsignedTransfers(opts.chainId, genesis, opts.transfers);
  const blocks: { txs: Buffer; ids: Buffer; count: number }[] = [];
  for (let start = 0; start < opts.transfers; start += opts.blockSize) {
    const count = Math.min(opts.blockSize, opts.transfers - start);
    const ids = Buffer.allocUnsafe(count * TX_ID_SIZE);
    for (let i = 0; i < count; i++) txId(txs, (start + i) * TX_SIZE).copy(ids, i * TX_ID_SIZE);
    blocks.push({ txs: Buffer.from(txs.subarray(start * TX_SIZE, (start + count) * TX_SIZE)), ids, count });
  }
  // Ids to look up afterwards, taken before the buffers are transferred to the ledger thread.
  const sample = Buffer.allocUnsafe(Math.min(opts.transfers, 100_000) * TX_ID_SIZE);
  for (let i = 0; i < sample.length / TX_ID_SIZE; i++) {
    const k = Math.floor((i * opts.transfers) / (sample.length / TX_ID_SIZE));
    const b = blocks[Math.floor(k / opts.blockSize)]!;
    b.ids.copy(sample, i * TX_ID_SIZE, (k % opts.blockSize) * TX_ID_SIZE, ((k % opts.blockSize) + 1) * TX_ID_SIZE);
  }
  const ledger = new LedgerClient();
  let ledgerOpen = true;
  let seconds = 0;
  try {
    await ledger.init({ path: dir, mapSizeMb: cfg.storage.mapSizeMb, cacheSizeMb: cfg.storage.cacheSizeMb, chainId: opts.chainId, shards: opts.shards, genesis });
    const t0 = performance.now();
    const replies = await Promise.all(blocks.map((b) => ledger.apply({ ...b, verified: new Uint8Array(b.count), timestamp: Date.now(), round: 0 })));
    seconds = (performance.now() - t0) / 1000;
    const committed = replies.reduce((s, r) => s + r.committed, 0);
    if (committed !== opts.transfers) throw new Error(`execute+persist committed ${committed} of ${opts.transfers}`);
    ledgerOpen = false;
    await ledger.close();
    const store = new LedgerStore({ path: dir, mapSizeMb: cfg.storage.mapSizeMb });
    try {
      return { transfers: opts.transfers, seconds, tps: opts.transfers / seconds, lookups: measureLookups(store, sample) };
    } finally {
      await store.close();
    }
  } finally {
    if (ledgerOpen) await ledger.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Random-order look-ups of committed ids (the GET route) and of absent ids (admission). */
function measureLookups(store: LedgerStore, sample: Buffer): LookupRates {
  const n = sample.length / TX_ID_SIZE;
  const order = Array.from({ length: n }, (_, i) => (i * 7919) % n);
  const absent = Buffer.from(sample);
  for (let i = 0; i < n; i++) absent[i * TX_ID_SIZE] = absent[i * TX_ID_SIZE]! ^ 0x5a;
  const rate = (fn: (i: number) => void) => {
    for (let i = 0; i < Math.min(n, 5_000); i++) fn(order[i]!); // warm-up
    const t0 = performance.now();
    for (const i of order) fn(i);
    return (n / (performance.now() - t0)) * 1000;
  };
  const committedPerSec = rate((i) => {
    const loc = store.getTxLocation(sample.subarray(i * TX_ID_SIZE, (i + 1) * TX_ID_SIZE));
    if (loc?.status !== 0) throw new Error(`committed id ${i} not found in the tx index`);
  });
  const absentPerSec = rate((i) => {
    if (store.hasTx(absent.subarray(i * TX_ID_SIZE, (i + 1) * TX_ID_SIZE))) throw new Error(`absent id ${i} found in the tx index`);
  });
  return { committedPerSec, absentPerSec };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const o = new Command()
    .name('node dist/bench/execute-persist.js')
    .description('Execute + persist alone (pre-verified transfers through the ledger thread into durable LMDB), then tx-index look-ups')
    .option('--transfers <n>', 'transfers', positiveInt('--transfers', 50_000_000), 1_000_000)
    .option('--accounts <n>', 'funded accounts', positiveInt('--accounts', 1_000_000), 10_000)
    .option('--block <n>', 'transfers per block', positiveInt('--block', 1_000_000), 100_000)
    .option('--shards <n>', 'execution shards', positiveInt('--shards', 64), 1)
    .option('--runs <n>', 'repeat the run', positiveInt('--runs', 20), 1)
    .option('--threads <n>', 'verify threads of the ceiling printed beside it', positiveInt('--threads', 64), availableParallelism())
    .parse()
    .opts<{ transfers: number; accounts: number; block: number; shards: number; runs: number; threads: number }>();
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  // The same-run verify ceiling, on the engine bench's cached signed workload: the stage is
  // reported beside what signature verification allows on this machine at this moment.
  const w = loadWorkload(7, 10_000, 200_000);
  const ceilingN = Math.min(w.count, 50_000 * o.threads);
  for (let run = 0; run < o.runs; run++) {
    const before = await measureVerifyCeiling(w.txs, ceilingN, o.threads);
    const r = await executePersist({ chainId: 7, accounts: o.accounts, transfers: o.transfers, blockSize: o.block, shards: o.shards });
    const after = await measureVerifyCeiling(w.txs, ceilingN, o.threads);
    console.log(
      `execute + persist alone: ${fmt(r.tps)} transfers/s (${fmt(r.transfers)} in ${r.seconds.toFixed(2)} s, blocks of ${fmt(o.block)}, ${o.shards} shard(s), ${fmt(o.accounts)} accounts) = ${(r.tps / ((before + after) / 2)).toFixed(1)}× the verify ceiling ${fmt((before + after) / 2)} tx/s (${o.threads} thr, before ${fmt(before)}, after ${fmt(after)}); look-ups: committed id ${fmt(r.lookups.committedPerSec)}/s, absent id ${fmt(r.lookups.absentPerSec)}/s`,
    );
  }
}
