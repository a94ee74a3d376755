import { Worker } from 'node:worker_threads';
import { compiledPath } from '../runtime/module-path.js';
import { AccountState } from './account-state.js';
import type { Frames } from '../tx/frames.js';
import type { ContractLaneStep } from './execute-block.js';
import { NOT_MINE, type ShardReply, type ShardRequest } from './shard-protocol.js';
import { addInto } from './state-root.js';

export interface ShardedOutcome {
  statuses: Uint8Array;
  accounts: { key: Buffer; balance: number; nonce: number; leaf: Uint32Array }[];
  /** Sum of every shard's root delta: add it to the state root. */
  delta: Uint32Array;
}

/**
 * One worker thread per execution shard; a block is two rounds: all debits, then all credits.
 * Between them the ledger thread runs the contract lane (it needs the debit statuses); the lane's
 * credits to native accounts ride on the credit round, each shard applying its own.
 */
export class ShardPool {
  private readonly workers: Worker[] = [];
  private readonly waiting: ((m: ShardReply) => void)[][] = [];

  private constructor(readonly shards: number) {}

  static async start(opts: { path: string; mapSizeMb: number; cacheSizeMb: number; shards: number }): Promise<ShardPool> {
    const pool = new ShardPool(opts.shards);
    const capacity = AccountState.capacityFor(opts.cacheSizeMb / opts.shards);
    for (let s = 0; s < opts.shards; s++) {
      const w = new Worker(compiledPath('./shard-worker.js', import.meta.url));
      pool.workers.push(w);
      pool.waiting.push([]);
      w.on('message', (m: ShardReply) => pool.waiting[s]!.shift()?.(m));
      w.on('error', (e) => {
        for (const r of pool.waiting[s]!.splice(0)) r({ type: 'error', message: e.message });
      });
    }
    await Promise.all(pool.workers.map((_, s) => pool.ask(s, { type: 'init', path: opts.path, mapSizeMb: opts.mapSizeMb, capacity, shard: s, shards: opts.shards })));
    return pool;
  }

  /** `txs` holds exactly the transactions `frames` describes. */
  async execute(height: number, chainId: number, txs: Uint8Array, frames: Frames, verified: Uint8Array, lane?: ContractLaneStep): Promise<ShardedOutcome> {
    const { count } = frames;
    const sharedTxs = shared(txs, txs.length);
    const offsets = new Uint32Array(new SharedArrayBuffer(frames.offsets.byteLength));
    offsets.set(frames.offsets);
    const sharedVerified = shared(verified, count);
    const debited = await Promise.all(
      this.workers.map((_, s) =>
        this.ask(s, { type: 'debit', height, chainId, txs: sharedTxs, count, offsets: offsets.buffer as SharedArrayBuffer, contracts: frames.contracts, verified: sharedVerified }),
      ),
    );
    const merged = new Uint8Array(new SharedArrayBuffer(count));
    for (const d of debited) {
      if (d.type !== 'debited') throw new Error(`shard debit failed: ${d.type === 'error' ? d.message : d.type}`);
      const part = new Uint8Array(d.statuses);
      for (let i = 0; i < count; i++) if (part[i] !== NOT_MINE) merged[i] = part[i]!;
    }
    const credit: ShardRequest = { type: 'credit', height, statuses: merged.buffer as SharedArrayBuffer };
    const laneCredits = lane ? lane(merged) : [];
    if (laneCredits.length > 0) {
      const keys = new Uint8Array(new SharedArrayBuffer(laneCredits.length * 32));
      const amounts = new Float64Array(new SharedArrayBuffer(laneCredits.length * 8));
      laneCredits.forEach((c, i) => {
        keys.set(c.key, i * 32);
        amounts[i] = c.amount;
      });
      credit.laneKeys = keys.buffer as SharedArrayBuffer;
      credit.laneAmounts = amounts.buffer as SharedArrayBuffer;
    }
    const credited = await Promise.all(this.workers.map((_, s) => this.ask(s, credit)));
    const accounts: ShardedOutcome['accounts'] = [];
    const delta = new Uint32Array(8);
    for (const c of credited) {
      if (c.type !== 'credited') throw new Error(`shard credit failed: ${c.type === 'error' ? c.message : c.type}`);
      const keys = Buffer.from(c.keys);
      const balances = new Float64Array(c.balances);
      const nonces = new Float64Array(c.nonces);
      const leaves = new Uint32Array(c.leaves);
      for (let i = 0; i < balances.length; i++) {
        accounts.push({ key: keys.subarray(i * 32, i * 32 + 32), balance: balances[i]!, nonce: nonces[i]!, leaf: leaves.subarray(i * 8, i * 8 + 8) });
      }
      addInto(delta, new Uint32Array(c.delta));
    }
    return { statuses: Uint8Array.from(merged), accounts, delta };
  }

  /** The block is visible in LMDB: shards may now evict what it touched. */
  visible(height: number): void {
    for (const w of this.workers) w.postMessage({ type: 'visible', height } satisfies ShardRequest);
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((_, s) => this.ask(s, { type: 'close' }).catch(() => undefined)));
    await Promise.all(this.workers.map((w) => w.terminate()));
  }

  private ask(s: number, m: ShardRequest): Promise<ShardReply> {
    return new Promise((resolve) => {
      this.waiting[s]!.push(resolve);
      this.workers[s]!.postMessage(m);
    });
  }
}

/** The bytes in a SharedArrayBuffer (copied unless they already are), for read-only sharing. */
function shared(u: Uint8Array, length: number): SharedArrayBuffer {
  if (u.buffer instanceof SharedArrayBuffer && u.byteOffset === 0 && u.buffer.byteLength === length) return u.buffer;
  const sab = new SharedArrayBuffer(length);
  new Uint8Array(sab).set(u.subarray(0, length));
  return sab;
}
