import { parentPort } from 'node:worker_threads';
import { LedgerStore } from '../storage/ledger-store.js';
import { AccountState } from './account-state.js';
import { BlockTouches, creditPhase, debitPhase, laneCreditPhase, type BlockInput, type NativeCredit } from './execute-block.js';
import { NOT_MINE, type ShardReply, type ShardRequest } from './shard-protocol.js';
import { ZERO_ROOT } from './state-root.js';

/**
 * One execution shard: owns the accounts whose key falls in its shard (its own cache; LMDB for
 * misses, read-only; the ledger thread is the only writer). Runs the debit phase for its senders
 * and the credit phase for its recipients of each block, in that order.
 */
if (!parentPort) throw new Error('shard-worker must run as a worker thread');
const port = parentPort;
let store: LedgerStore | undefined;
let state: AccountState | undefined;
let shard = 0;
let shards = 1;
let block: { input: BlockInput; touches: BlockTouches } | undefined;

function reply(m: ShardReply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(m, transfer);
}

port.on('message', (m: ShardRequest) => {
  try {
    handle(m);
  } catch (e) {
    reply({ type: 'error', message: (e as Error).message });
  }
});

function handle(m: ShardRequest): void {
  switch (m.type) {
    case 'init':
      store = new LedgerStore({ path: m.path, mapSizeMb: m.mapSizeMb });
      state = new AccountState(store, ZERO_ROOT(), m.capacity);
      shard = m.shard;
      shards = m.shards;
      reply({ type: 'ready' });
      return;
    case 'debit': {
      if (!state || !store) throw new Error('shard not initialised');
      store.refresh(); // misses must read what the ledger thread committed last
      const txs = Buffer.from(m.txs);
      const frames = { offsets: new Uint32Array(m.offsets), count: m.count, contracts: m.contracts };
      const input: BlockInput = { height: m.height, chainId: m.chainId, txs, count: m.count, frames, verified: new Uint8Array(m.verified, 0, m.count) };
      const statuses = new Uint8Array(m.count).fill(NOT_MINE);
      const touches = new BlockTouches(m.height);
      debitPhase(state, input, shard, shards, statuses, touches);
      block = { input, touches };
      reply({ type: 'debited', height: m.height, statuses: statuses.buffer }, [statuses.buffer]);
      return;
    }
    case 'credit': {
      if (!state || !block || block.input.height !== m.height) throw new Error(`credit for block ${m.height} without its debit phase`);
      const { input, touches } = block;
      creditPhase(state, input, shard, shards, new Uint8Array(m.statuses, 0, input.count), touches);
      if (m.laneKeys && m.laneAmounts) {
        const keys = Buffer.from(m.laneKeys);
        const amounts = new Float64Array(m.laneAmounts);
        const credits: NativeCredit[] = [];
        for (let i = 0; i < amounts.length; i++) credits.push({ key: keys.subarray(i * 32, i * 32 + 32), amount: amounts[i]! });
        laneCreditPhase(state, credits, shard, shards, touches);
      }
      const delta = ZERO_ROOT();
      state.commitLeaves(touches.list, m.height, delta);
      const k = touches.list.length;
      const keys = new Uint8Array(k * 32);
      const balances = new Float64Array(k);
      const nonces = new Float64Array(k);
      const leaves = new Uint32Array(k * 8);
      touches.list.forEach((a, i) => {
        keys.set(a.key, i * 32);
        balances[i] = a.balance;
        nonces[i] = a.nonce;
        leaves.set(a.leaf!, i * 8);
      });
      block = undefined;
      const bufs = [keys.buffer, balances.buffer, nonces.buffer, leaves.buffer, delta.buffer as ArrayBuffer];
      reply({ type: 'credited', height: m.height, keys: bufs[0]!, balances: bufs[1]!, nonces: bufs[2]!, leaves: bufs[3]!, delta: bufs[4]! }, bufs);
      return;
    }
    case 'visible':
      state?.markVisible(m.height);
      return;
    case 'close':
      void store?.close().then(() => reply({ type: 'closed' }));
      return;
  }
}
