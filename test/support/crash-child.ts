/**
 * A node under load that is meant to be killed (test/storage/crash.test.ts). Run as a real child
 * process from its compiled form: `node dist/test/support/crash-child.js <dataDir> <seed>`.
 *
 * It starts a solo node with the test profile, reads the committed nonce of every devnet sender
 * (so a restarted child continues where the durable chain stops), then signs and submits
 * transfers continuously in small chunks. For every block the node reports through `onBlock`
 * (called only once the block is durable) it prints one line on stdout:
 *
 *   durable <height> <stateRootHex> <committed> <rejected> <txIdHex> <position> <msSinceStart>
 *
 * where <txIdHex> is one committed transaction of the block (or `-` if none). It also prints
 * `ready <height> <stateRootHex>` once the node has started, and `early ...` if the node ever
 * reports a transaction committed before its block was acknowledged durable. It runs until killed.
 * Stdout is a pipe: on Linux, writes to a pipe are synchronous, so a printed line is in the pipe
 * before the next statement runs and survives SIGKILL.
 */
import { performance } from 'node:perf_hooks';
import { startNode } from '../../src/node/node.js';
import { generateTransfers } from '../../src/workload/generate.js';
import { TX_ID_SIZE, TX_SIZE } from '../../src/tx/layout.js';
import { txId } from '../../src/tx/codec.js';
import type { Config } from '../../src/config/schema.js';
import { devnetKeys, testConfig } from './fixtures.js';

export const CRASH_ACCOUNTS = 64;
/** Large enough that no sender overdraws during a test run: every transfer commits. */
export const CRASH_BALANCE = 1_000_000_000;
const CHUNK = 256;
/** Back-pressure: stop signing while this many transactions wait in the mempool. */
const MAX_PENDING = 4_000;

/** The config the child runs with; the test opens the same data dir with the same genesis. */
export function crashConfig(dataDir: string): Config {
  return testConfig(dataDir, CRASH_ACCOUNTS, {
    pipeline: { batchSize: 500, batchTimeoutMs: 5 },
    chain: { genesis: { devnetBalance: CRASH_BALANCE } },
  });
}

/** mulberry32: a tiny seeded PRNG (the test and the child both need reproducible choices). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

async function main(): Promise<void> {
  const [dataDir, seedArg] = process.argv.slice(2);
  if (!dataDir) throw new Error('usage: crash-child <dataDir> <seed>');
  const rnd = prng(Number(seedArg ?? 1));
  const t0 = performance.now();
  const cfg = crashConfig(dataDir);
  const chainId = cfg.chain.chainId;
  const node = await startNode(cfg);
  const latest = node.getBlock('latest');
  out(`ready ${latest?.height ?? -1} ${latest?.stateRoot ?? '-'}`);

  let durableHeight = latest?.height ?? -1;
  node.onBlock((e) => {
    const b = e.block;
    // One committed tx of the block, chosen at random, so the test can look it up in the index.
    const committed: number[] = [];
    for (let i = 0; i < e.statuses.length; i++) if (e.statuses[i] === 0) committed.push(i);
    let pick = '-';
    let pos = -1;
    if (committed.length > 0) {
      pos = committed[Math.floor(rnd() * committed.length)]!;
      pick = e.txIds.subarray(pos * TX_ID_SIZE, (pos + 1) * TX_ID_SIZE).toString('hex');
    }
    durableHeight = b.height;
    out(`durable ${b.height} ${b.stateRoot} ${b.committed} ${b.rejected} ${pick} ${pos} ${Math.round(performance.now() - t0)}`);
  });

  const keys = devnetKeys(chainId, CRASH_ACCOUNTS);
  const pubs = keys.map((k) => k.publicKey);
  // Continue from the durable chain: the next nonce of each sender is its committed nonce + 1.
  const next = keys.map((k) => (node.getAccount(Buffer.from(k.publicKey))?.nonce ?? 0) + 1);
  /** A few submitted ids per chunk, polled to catch a "committed" answer before the block is acked. */
  let watched: Buffer[] = [];
  let chunkNo = 0;

  const loop = async (): Promise<void> => {
    try {
      for (const id of watched) {
        const s = node.getTransaction(id);
        if (s?.status === 'committed' && s.height > durableHeight) out(`early ${s.id} ${s.height} ${durableHeight}`);
      }
      watched = watched.filter((id) => node.getTransaction(id)?.status === 'pending');
      if (node.stats().mempool.size > MAX_PENDING) {
        setTimeout(loop, 2);
        return;
      }
      // Rotate the recipients so blocks touch varying accounts.
      const shift = chunkNo++ % pubs.length;
      const recipients = [...pubs.slice(shift), ...pubs.slice(0, shift)];
      const txs = generateTransfers({ chainId, senders: keys, recipients, count: CHUNK, startNonces: next });
      for (let i = 0; i < CHUNK; i++) next[i % keys.length]!++;
      const res = await node.submit(txs);
      for (let i = 0; i < res.length; i++) {
        const r = res[i]!;
        if (!r.ok) {
          process.stderr.write(`admission rejected tx ${i}: ${r.code}\n`);
          process.exit(3);
        }
      }
      for (let k = 0; k < 2; k++) watched.push(txId(txs, Math.floor(rnd() * CHUNK) * TX_SIZE));
    } catch (e) {
      process.stderr.write(`load loop failed: ${(e as Error).stack ?? String(e)}\n`);
      process.exit(2);
    }
    setImmediate(loop);
  };
  loop();
}

// Only run when executed as the child, not when the test imports the helpers above.
if (process.argv[1]?.replace(/\\/g, '/').endsWith('/crash-child.js')) {
  main().catch((e: unknown) => {
    process.stderr.write(`crash-child failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
}
