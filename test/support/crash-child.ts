/**
 * A node under load that is meant to be killed (test/storage/crash.test.ts and
 * test/storage/contract-crash.test.ts). Run as a real child process from its compiled form:
 * `node dist/test/support/crash-child.js <dataDir> <seed> [contracts]`.
 *
 * It starts a solo node with the test profile, reads the committed nonce of every devnet sender
 * (so a restarted child continues where the durable chain stops), then signs and submits
 * transfers continuously in small chunks. For every block the node reports through `onBlock`
 * (called only once the block is durable) it prints one line on stdout:
 *
 *   durable <height> <stateRootHex> <committed> <rejected> <txIdHex> <position> <msSinceStart> [<callIdHex>:<callPosition> ...]
 *
 * where <txIdHex> is one committed transaction of the block (or `-` if none). It also prints
 * `ready <height> <stateRootHex>` once the node has started, and `early ...` if the node ever
 * reports a transaction committed before its block was acknowledged durable. It runs until killed.
 * Stdout is a pipe: on Linux, writes to a pipe are synchronous, so a printed line is in the pipe
 * before the next statement runs and survives SIGKILL.
 *
 * `contracts` mode: account 0's first transaction (nonce 1) deploys the example token with
 * TOKEN_SUPPLY, so the token is at contractAddress(account 0, 1); after that account 0 sends no
 * native transfers but CALLS_PER_CHUNK token `transfer` calls per chunk, interleaved with the
 * other accounts' transfers, to rotating recipients. The durable line then also lists every
 * committed call (and the deploy) of the block that this child submitted, with its position: a
 * uniform pick over ~1 call per 64 transactions would rarely land on one.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { startNode } from '../../src/node/node.js';
import { generateTransfers } from '../../src/workload/generate.js';
import { TX_ID_SIZE, TX_SIZE } from '../../src/tx/layout.js';
import { mustFrame, txIdAt } from '../../src/tx/frames.js';
import { contractTxId, signContractTx } from '../../src/tx/contract-tx.js';
import { contractAddress } from '../../src/contracts/state.js';
import { projectRoot } from '../../src/runtime/module-path.js';
import type { Config } from '../../src/config/schema.js';
import type { KeyPair } from '../../src/crypto/keys.js';
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

/** Contracts mode: the token's supply, all of it account 0's at deploy. */
export const TOKEN_SUPPLY = 1_000_000_000_000;
/** Contracts mode: account 0's token calls per chunk (its share of a chunk in transfer-only mode). */
export const CALLS_PER_CHUNK = CHUNK / CRASH_ACCOUNTS;
/** Ample for one token transfer (~20 K gas) or the deploy; the reservation is refunded but the used part. */
const CALL_GAS = 1_000_000;
const DEPLOY_GAS = 20_000_000;

/** Where contracts mode deploys the token: account 0's deploy is its transaction with nonce 1. */
export function tokenAddress(chainId: number): Buffer {
  return contractAddress(devnetKeys(chainId, 1)[0]!.publicKey, 1);
}

/** The token's storage key of an account's balance: 'b' ‖ public key (contracts/token.ts). */
export function tokenBalanceKey(publicKey: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from('b'), publicKey]);
}

export function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
}

function out(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** One chunk of signed load, and the ids of the token calls (and the deploy) in it. */
interface Chunk {
  txs: Buffer;
  calls: Buffer[];
}

function transferChunk(chainId: number, keys: KeyPair[], recipients: Uint8Array[], next: number[]): Chunk {
  const txs = generateTransfers({ chainId, senders: keys, recipients, count: CHUNK, startNonces: next });
  for (let i = 0; i < CHUNK; i++) next[i % keys.length]!++;
  return { txs, calls: [] };
}

/**
 * Account 0's share of the chunk as token calls (the first chunk of a fresh chain starts with the
 * deploy), each followed by one transfer of every other account: contract and native
 * transactions interleave in every submission, batch and block.
 */
function mixedChunk(chainId: number, keys: KeyPair[], recipients: Uint8Array[], next: number[], token: { code: Buffer; address: Buffer }, chunkNo: number): Chunk {
  const owner = keys[0]!;
  const others = keys.slice(1);
  const perCall = others.length;
  const transfers = generateTransfers({ chainId, senders: others, recipients, count: CALLS_PER_CHUNK * perCall, startNonces: next.slice(1) });
  for (let i = 1; i < keys.length; i++) next[i]! += CALLS_PER_CHUNK;
  const parts: Buffer[] = [];
  const calls: Buffer[] = [];
  for (let j = 0; j < CALLS_PER_CHUNK; j++) {
    const nonce = next[0]!++;
    let tx: Buffer;
    if (nonce === 1) {
      tx = signContractTx({ kind: 'deploy', chainId, sender: owner.publicKey, nonce, gasLimit: DEPLOY_GAS, code: token.code, initArgs: u64(TOKEN_SUPPLY) }, owner.seed);
    } else {
      // Rotating recipients among the other accounts, small varying amounts.
      const to = others[(chunkNo * CALLS_PER_CHUNK + j) % others.length]!.publicKey;
      const args = Buffer.concat([to, u64(1 + ((chunkNo + j) % 13))]);
      tx = signContractTx({ kind: 'call', chainId, sender: owner.publicKey, nonce, gasLimit: CALL_GAS, contract: token.address, method: 'transfer', args }, owner.seed);
    }
    calls.push(contractTxId(tx));
    parts.push(tx, transfers.subarray(j * perCall * TX_SIZE, (j + 1) * perCall * TX_SIZE));
  }
  return { txs: Buffer.concat(parts), calls };
}

async function main(): Promise<void> {
  const [dataDir, seedArg, mode] = process.argv.slice(2);
  if (!dataDir || (mode !== undefined && mode !== 'contracts')) throw new Error('usage: crash-child <dataDir> <seed> [contracts]');
  const contracts = mode === 'contracts';
  const rnd = prng(Number(seedArg ?? 1));
  const t0 = performance.now();
  const cfg = crashConfig(dataDir);
  const chainId = cfg.chain.chainId;
  const token = contracts ? { code: readFileSync(join(projectRoot(), 'dist/contracts/token.wasm')), address: tokenAddress(chainId) } : undefined;
  const node = await startNode(cfg);
  const latest = node.getBlock('latest');
  out(`ready ${latest?.height ?? -1} ${latest?.stateRoot ?? '-'}`);

  /** Ids (hex) of the token calls submitted and not yet seen in a durable block. */
  const submittedCalls = new Set<string>();
  let durableHeight = latest?.height ?? -1;
  node.onBlock((e) => {
    const b = e.block;
    // One committed tx of the block, chosen at random, so the test can look it up in the index.
    const committed: number[] = [];
    const calls: number[] = [];
    for (let i = 0; i < e.statuses.length; i++) {
      if (e.statuses[i] !== 0) continue;
      committed.push(i);
      if (contracts && submittedCalls.delete(e.txIds.toString('hex', i * TX_ID_SIZE, (i + 1) * TX_ID_SIZE))) calls.push(i);
    }
    const idOf = (pos: number) => e.txIds.toString('hex', pos * TX_ID_SIZE, (pos + 1) * TX_ID_SIZE);
    let pick = '-';
    let pos = -1;
    if (committed.length > 0) {
      pos = committed[Math.floor(rnd() * committed.length)]!;
      pick = idOf(pos);
    }
    durableHeight = b.height;
    const listed = calls.map((i) => ` ${idOf(i)}:${i}`).join('');
    out(`durable ${b.height} ${b.stateRoot} ${b.committed} ${b.rejected} ${pick} ${pos} ${Math.round(performance.now() - t0)}${listed}`);
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
      const shift = chunkNo % pubs.length;
      const recipients = [...pubs.slice(shift), ...pubs.slice(0, shift)];
      const chunk = token ? mixedChunk(chainId, keys, recipients, next, token, chunkNo) : transferChunk(chainId, keys, recipients, next);
      chunkNo++;
      for (const id of chunk.calls) submittedCalls.add(id.toString('hex'));
      const res = await node.submit(chunk.txs);
      for (let i = 0; i < res.length; i++) {
        const r = res[i]!;
        if (!r.ok) {
          process.stderr.write(`admission rejected tx ${i}: ${r.code}\n`);
          process.exit(3);
        }
      }
      const frames = mustFrame(chunk.txs);
      for (let k = 0; k < 2; k++) {
        const i = Math.floor(rnd() * frames.count);
        watched.push(txIdAt(chunk.txs, frames.offsets[i]!, frames.offsets[i + 1]! - frames.offsets[i]!));
      }
      if (chunk.calls.length > 0) watched.push(chunk.calls[Math.floor(rnd() * chunk.calls.length)]!);
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
