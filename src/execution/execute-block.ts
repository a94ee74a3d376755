import { RejectCode } from '../errors.js';
import { readU32, readU53 } from '../tx/codec.js';
import { MAX_AMOUNT, Off, TX_KIND_TRANSFER, TX_SIZE, TX_VERSION } from '../tx/layout.js';
import type { Account, AccountState } from './account-state.js';

export interface BlockInput {
  height: number;
  chainId: number;
  /** Concatenated transactions. */
  txs: Buffer;
  count: number;
  /** Per tx: 0 signature valid, else the RejectCode the verify stage assigned. */
  verified: Uint8Array;
}

export interface BlockOutcome {
  statuses: Uint8Array;
  committed: number;
  rejected: number;
  /** Every account whose balance or nonce changed, each once. */
  touched: Account[];
}

/** Which execution shard owns a sender: its first four key bytes modulo the shard count. */
export function shardOf(txs: Uint8Array, txOffset: number, shards: number): number {
  return readU32(txs, txOffset + Off.SENDER) % shards;
}

/**
 * Deterministic execution of one block, partitioned by sender shard.
 *
 * Rule (what makes shards independent): a debit is checked against the sender's balance at block
 * start minus its earlier debits in the same block; credits land after every debit of the block.
 * A shard's debit phase therefore reads and writes only its own senders, and the credit phase
 * only adds (commutative), so balances, nonces, statuses and the state root are identical for any
 * shard count or shard scheduling. Supply is capped at 2^53 - 1, so no credit can overflow.
 */
export function executeBlock(state: AccountState, input: BlockInput, shards: number): BlockOutcome {
  const { txs, count, verified, height } = input;
  const statuses = new Uint8Array(count);
  const touched: Account[] = [];
  const touch = (a: Account) => {
    if (a.touchedAt !== height) {
      a.touchedAt = height;
      touched.push(a);
    }
  };

  // Partition once: per-shard lists of tx positions, each in block order.
  const shardOfTx = new Uint16Array(count);
  const sizes = new Uint32Array(shards);
  for (let i = 0; i < count; i++) {
    const s = shardOf(txs, i * TX_SIZE, shards);
    shardOfTx[i] = s;
    sizes[s]!++;
  }
  const starts = new Uint32Array(shards + 1);
  for (let s = 0; s < shards; s++) starts[s + 1] = starts[s]! + sizes[s]!;
  const order = new Uint32Array(count);
  const fill = starts.slice(0, shards);
  for (let i = 0; i < count; i++) order[fill[shardOfTx[i]!]!++] = i;

  // Debit phase, shard by shard (independent: see the rule above).
  for (let s = 0; s < shards; s++) {
    for (let j = starts[s]!; j < starts[s + 1]!; j++) {
      const i = order[j]!;
      statuses[i] = debit(state, input, i, touch);
    }
  }

  // Credit phase: block order, after all debits.
  let committed = 0;
  for (let i = 0; i < count; i++) {
    if (statuses[i] !== 0) continue;
    committed++;
    const off = i * TX_SIZE + Off.RECIPIENT;
    const to = state.getOrCreate(txs.toString('latin1', off, off + 32), txs, off);
    to.balance += readU53(txs, i * TX_SIZE + Off.AMOUNT);
    touch(to);
  }
  state.commitLeaves(touched, height);
  return { statuses, committed, rejected: count - committed, touched };
}

function debit(state: AccountState, input: BlockInput, i: number, touch: (a: Account) => void): number {
  const { txs, chainId, height } = input;
  const o = i * TX_SIZE;
  // Static rules again: a block may come from another (possibly Byzantine) leader's mempool.
  if (txs[o + Off.VERSION] !== TX_VERSION) return RejectCode.UNSUPPORTED_VERSION;
  if (txs[o + Off.KIND] !== TX_KIND_TRANSFER || txs[o + Off.FLAGS] !== 0 || txs[o + Off.FLAGS + 1] !== 0) return RejectCode.UNSUPPORTED_KIND;
  if (readU32(txs, o + Off.CHAIN_ID) !== chainId) return RejectCode.WRONG_CHAIN;
  const amount = readU53(txs, o + Off.AMOUNT);
  if (amount === 0) return RejectCode.ZERO_AMOUNT;
  if (amount < 0 || amount > MAX_AMOUNT) return RejectCode.AMOUNT_TOO_LARGE;
  if (txs.compare(txs, o + Off.RECIPIENT, o + Off.RECIPIENT + 32, o + Off.SENDER, o + Off.SENDER + 32) === 0) return RejectCode.SELF_TRANSFER;
  const v = input.verified[i]!;
  if (v !== 0) return v;
  const from = state.get(txs.toString('latin1', o + Off.SENDER, o + Off.SENDER + 32), txs, o + Off.SENDER);
  if (!from) return RejectCode.UNKNOWN_SENDER;
  const nonce = readU53(txs, o + Off.NONCE);
  if (nonce !== from.nonce + 1) {
    const code = nonce > from.nonce + 1 && from.rejectedAt === height ? RejectCode.NONCE_GAP : RejectCode.NONCE_MISMATCH;
    from.rejectedAt = height;
    return code;
  }
  if (amount > from.balance) {
    from.rejectedAt = height;
    return RejectCode.INSUFFICIENT_FUNDS;
  }
  from.balance -= amount;
  from.nonce = nonce;
  touch(from);
  return 0;
}
