import { BlockGasMeter } from '../contracts/block-gas.js';
import { feeFor } from '../contracts/limits.js';
import { RejectCode } from '../errors.js';
import { readU32, readU53 } from '../tx/codec.js';
import { CtxOff, TX_KIND_CALL } from '../tx/contract-tx.js';
import { type Frames, isContractTxAt, mustFrame, senderOffset, staticRejectAt } from '../tx/frames.js';
import { KEY_SIZE, Off } from '../tx/layout.js';
import { staticRejectCode } from '../tx/rules.js';
import type { Account, AccountState } from './account-state.js';

export interface BlockInput {
  height: number;
  chainId: number;
  /** Concatenated transactions, transfers and contract transactions framed (src/tx/frames.ts). */
  txs: Buffer;
  count: number;
  /** The frames of `txs`, when the caller has them already (else computed). */
  frames?: Frames;
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

/** The frames of a block's buffer (the caller's, or computed once and kept on the input). */
export function framesOf(input: BlockInput): Frames {
  if (!input.frames) input.frames = mustFrame(input.txs);
  if (input.frames.count !== input.count) throw new Error(`block buffer frames ${input.frames.count} transactions, the block says ${input.count}`);
  return input.frames;
}

/**
 * What a contract transaction reserves from its sender in the debit phase: the fee of its whole
 * gas limit plus the amount a call sends. The lane spends from exactly this and credits back the
 * rest, so it never reads a native balance.
 */
export function reservationAt(txs: Uint8Array, offset: number): number {
  const amount = txs[offset + CtxOff.KIND] === TX_KIND_CALL ? readU53(txs, offset + CtxOff.PAYLOAD + KEY_SIZE) : 0;
  return feeFor(readU53(txs, offset + CtxOff.GAS_LIMIT)) + amount;
}

/**
 * Block gas pre-pass, in block order: a contract transaction that would take the sum of gas limits
 * of the block's contract transactions past the limit gets BLOCK_GAS_EXCEEDED (the BlockGasMeter
 * rule batch sealing uses; a later, smaller one may still fit). Only transactions that could run
 * count: signature verified, not a repeat, static rules met. Returns `verified` with those
 * positions marked (the input itself when nothing is); idempotent.
 */
export function markBlockGas(txs: Buffer, frames: Frames, verified: Uint8Array, chainId: number, limit?: number): Uint8Array {
  if (frames.contracts === 0) return verified;
  const meter = new BlockGasMeter(limit);
  let out = verified;
  for (let i = 0; i < frames.count; i++) {
    const o = frames.offsets[i]!;
    if (!isContractTxAt(txs, o) || verified[i] !== 0) continue;
    if (staticRejectAt(txs, o, frames.offsets[i + 1]! - o, chainId) !== 0) continue;
    if (meter.tryReserve(readU53(txs, o + CtxOff.GAS_LIMIT))) continue;
    if (out === verified) out = Uint8Array.from(verified);
    out[i] = RejectCode.BLOCK_GAS_EXCEEDED;
  }
  return out;
}

/** Debits of the block's transactions whose sender is in `shard`; writes their statuses. */
export function debitPhase(state: AccountState, input: BlockInput, shard: number, shards: number, statuses: Uint8Array, touches: BlockTouches): void {
  const { offsets } = framesOf(input);
  for (let i = 0; i < input.count; i++) {
    if (shards > 1 && shardOfKey(input.txs, senderOffset(input.txs, offsets[i]!), shards) !== shard) continue;
    statuses[i] = debit(state, input, i, offsets[i]!, offsets[i + 1]! - offsets[i]!, touches);
  }
}

/** Credits of committed transfers whose recipient is in `shard`, in block order (contract transactions credit nothing here). */
export function creditPhase(state: AccountState, input: BlockInput, shard: number, shards: number, statuses: Uint8Array, touches: BlockTouches): void {
  const { txs } = input;
  const { offsets, contracts } = framesOf(input);
  for (let i = 0; i < input.count; i++) {
    if (statuses[i] !== 0) continue;
    const o = offsets[i]!;
    if (contracts > 0 && isContractTxAt(txs, o)) continue;
    const off = o + Off.RECIPIENT;
    if (shards > 1 && shardOfKey(txs, off, shards) !== shard) continue;
    const to = state.getOrCreate(txs, off);
    to.balance += readU53(txs, o + Off.AMOUNT);
    touches.add(to);
  }
}

/** A credit the contract lane owes a native account (a refund, or a contract's transfer to it). */
export interface NativeCredit {
  key: Buffer;
  amount: number;
}

/**
 * Third phase: the contract lane's credits to native accounts whose key is in `shard`. Credits
 * only add, like the transfer credits, so the phase order and the shard split do not matter.
 */
export function laneCreditPhase(state: AccountState, credits: readonly NativeCredit[], shard: number, shards: number, touches: BlockTouches): void {
  for (const c of credits) {
    if (shards > 1 && shardOfKey(c.key, 0, shards) !== shard) continue;
    if (!(c.amount > 0 && Number.isSafeInteger(c.amount))) throw new Error(`lane credit out of range: ${c.amount}`);
    const to = state.getOrCreate(c.key, 0);
    to.balance += c.amount;
    if (!Number.isSafeInteger(to.balance)) throw new Error(`balance of ${c.key.toString('hex')} passed 2^53 - 1: supply is not conserved`);
    touches.add(to);
  }
}

/**
 * Runs the block's included contract transactions (statuses after the debit phase) and returns
 * what they credit to native accounts: the contract lane (contract-lane.ts) or a test's stand-in.
 */
export type ContractLaneStep = (statuses: Uint8Array) => readonly NativeCredit[];

/**
 * The whole block on one thread: block gas pre-pass, every shard's debits, the transfers' credits,
 * the contract lane and its credits; updates the state root with the accounts' leaves (the lane
 * adds its own contract-state leaves). Without a lane, included contract transactions keep their
 * reservation debited and credit nothing.
 */
export function executeBlock(state: AccountState, input: BlockInput, shards: number, lane?: ContractLaneStep): BlockOutcome {
  const frames = framesOf(input);
  const run: BlockInput = { ...input, frames, verified: markBlockGas(input.txs, frames, input.verified, input.chainId) };
  const statuses = new Uint8Array(input.count);
  const touches = new BlockTouches(input.height);
  for (let s = 0; s < shards; s++) debitPhase(state, run, s, shards, statuses, touches);
  creditPhase(state, run, 0, 1, statuses, touches);
  if (lane && frames.contracts > 0) laneCreditPhase(state, lane(statuses), 0, 1, touches);
  state.commitLeaves(touches.list, input.height, state.root);
  return outcome(statuses, touches.list);
}

export function outcome(statuses: Uint8Array, touched: Account[]): BlockOutcome {
  let committed = 0;
  for (let i = 0; i < statuses.length; i++) if (statuses[i] === 0) committed++;
  return { statuses, committed, rejected: statuses.length - committed, touched };
}

/**
 * One transaction's debit. A contract transaction takes its nonce from the same sequence as the
 * sender's transfers and reserves reservationAt(); status 0 means included (nonce consumed) even
 * if the call later reverts in the lane.
 */
function debit(state: AccountState, input: BlockInput, i: number, o: number, len: number, touches: BlockTouches): number {
  const { txs, chainId, height } = input;
  const v = input.verified[i]!;
  // A repeat of an id that already has its final outcome: nothing about this copy counts.
  if (v === RejectCode.DUPLICATE) return v;
  const contract = isContractTxAt(txs, o);
  // Static rules again: a block may come from another (possibly Byzantine) leader's mempool.
  // Transfers keep the rule stored chains were executed under (staticRejectCode, no nonce range).
  const bad = contract ? staticRejectAt(txs, o, len, chainId) : staticRejectCode(txs, o, chainId);
  if (bad !== 0) return bad;
  const amount = contract ? reservationAt(txs, o) : readU53(txs, o + Off.AMOUNT);
  if (v === RejectCode.BLOCK_GAS_EXCEEDED) {
    // Signed by its sender, so its later nonces in this block are NONCE_GAP, as after an overdraft.
    const from = state.get(txs, senderOffset(txs, o));
    if (from) from.rejectedAt = height;
    return v;
  }
  if (v !== 0) return v;
  const from = state.get(txs, senderOffset(txs, o));
  if (!from) return RejectCode.UNKNOWN_SENDER;
  const nonce = contract ? readU53(txs, o + CtxOff.NONCE) : readU53(txs, o + Off.NONCE);
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
