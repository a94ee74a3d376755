import { RejectCode } from '../errors.js';
import { readU32, readU53 } from '../tx/codec.js';
import { Off, TX_SIZE } from '../tx/layout.js';
import { staticRejectCode } from '../tx/rules.js';
import type { Account, AccountState } from './account-state.js';

export interface BlockInput {
  height: number;
  chainId: number;
  /** Concatenated transactions. */
  txs: Buffer;
  count: number;
  /**
   * Per tx: 0 when its signature verified and its id is not final yet; else BAD_SIGNATURE, or
   * DUPLICATE for a repeat of an id already final (see markRepeats in tx-finality.ts).
   */
  verified: Uint8Array;
}

export interface BlockOutcome {
  statuses: Uint8Array;
  committed: number;
  rejected: number;
  /** Every account whose balance or nonce changed, each once. */
  touched: Account[];
}

/** Which execution shard owns an account: the first four key bytes modulo the shard count. */
export function shardOfKey(bytes: Uint8Array, keyOffset: number, shards: number): number {
  return readU32(bytes, keyOffset) % shards;
}

/**
 * Execution rule (what makes shards independent): a debit is checked against the sender's balance
 * at block start minus its earlier debits in the same block; credits land after every debit of the
 * block. A shard's debit phase therefore reads and writes only its own senders, and the credit
 * phase only adds (commutative), so balances, nonces, statuses and the state root are identical
 * for any shard count or shard scheduling. Supply is capped at 2^53 - 1: no credit can overflow.
 *
 * The two phases below are what every shard runs, on one thread (executeBlock) or on one worker
 * per shard (shard-pool.ts). `shard`/`shards` select the transactions a caller owns.
 */
export class BlockTouches {
  readonly list: Account[] = [];
  constructor(private readonly height: number) {}
  add(a: Account): void {
    if (a.touchedAt !== this.height) {
      a.touchedAt = this.height;
      this.list.push(a);
    }
  }
}

/** Debits of the block's transactions whose sender is in `shard`; writes their statuses. */
export function debitPhase(state: AccountState, input: BlockInput, shard: number, shards: number, statuses: Uint8Array, touches: BlockTouches): void {
  for (let i = 0; i < input.count; i++) {
    if (shards > 1 && shardOfKey(input.txs, i * TX_SIZE + Off.SENDER, shards) !== shard) continue;
    statuses[i] = debit(state, input, i, touches);
  }
}

/** Credits of committed transactions whose recipient is in `shard`, in block order. */
export function creditPhase(state: AccountState, input: BlockInput, shard: number, shards: number, statuses: Uint8Array, touches: BlockTouches): void {
  const { txs } = input;
  for (let i = 0; i < input.count; i++) {
    if (statuses[i] !== 0) continue;
    const off = i * TX_SIZE + Off.RECIPIENT;
    if (shards > 1 && shardOfKey(txs, off, shards) !== shard) continue;
    const to = state.getOrCreate(txs, off);
    to.balance += readU53(txs, i * TX_SIZE + Off.AMOUNT);
    touches.add(to);
  }
}

/** The whole block on one thread: every shard's debits, then the credits; updates the state root. */
export function executeBlock(state: AccountState, input: BlockInput, shards: number): BlockOutcome {
  const statuses = new Uint8Array(input.count);
  const touches = new BlockTouches(input.height);
  for (let s = 0; s < shards; s++) debitPhase(state, input, s, shards, statuses, touches);
  creditPhase(state, input, 0, 1, statuses, touches);
  state.commitLeaves(touches.list, input.height, state.root);
  return outcome(statuses, touches.list);
}

export function outcome(statuses: Uint8Array, touched: Account[]): BlockOutcome {
  let committed = 0;
  for (let i = 0; i < statuses.length; i++) if (statuses[i] === 0) committed++;
  return { statuses, committed, rejected: statuses.length - committed, touched };
}

function debit(state: AccountState, input: BlockInput, i: number, touches: BlockTouches): number {
  const { txs, chainId, height } = input;
  const o = i * TX_SIZE;
  const v = input.verified[i]!;
  // A repeat of an id that already has its final outcome: nothing about this copy counts.
  if (v === RejectCode.DUPLICATE) return v;
  // Static rules again: a block may come from another (possibly Byzantine) leader's mempool.
  const bad = staticRejectCode(txs, o, chainId);
  if (bad !== 0) return bad;
  const amount = readU53(txs, o + Off.AMOUNT);
  if (v !== 0) return v;
  const from = state.get(txs, o + Off.SENDER);
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
  touches.add(from);
  return 0;
}
