import { RejectCode } from '../errors.js';
import { TX_ID_SIZE } from '../tx/layout.js';

/** The ids that own their outcome so far, and where (a TxIdIndex; see tx-id-index.ts). */
export interface FinalIds {
  /** Adds the id at `ids[offset..]` as owned by (height, position) unless it is final already. */
  claim(ids: Uint8Array, offset: number, height: number, position: number): boolean;
}

/**
 * A transaction id has one final outcome. Once a block holds a transaction with some id (committed
 * or rejected), no later copy counts: not in a later block, and not later in the same block. Such
 * a copy executes as DUPLICATE (no balance or nonce effect) and does not own the id, so the first
 * record is never overwritten. Without this, the same signed transfer submitted to two validators
 * lands twice and the second copy's NONCE_MISMATCH replaced the record of the first, whose money
 * had moved.
 *
 * Deterministic on every node: it depends only on the chain before the block and on the block.
 *
 * @param final the ids final before this block; the positions of this block that own their id are
 *   added to it (the caller makes this block's ids readable to the index's confirm first).
 * @returns `verified` with DUPLICATE at repeated positions (a copy; the input is not modified).
 *   Execution adds no DUPLICATE or BAD_SIGNATURE of its own, so the positions left at 0 here are
 *   exactly those that own an index entry.
 */
export function markRepeats(ids: Uint8Array, count: number, verified: Uint8Array, height: number, final: FinalIds): Uint8Array {
  const out = new Uint8Array(count);
  out.set(verified.subarray(0, count));
  for (let i = 0; i < count; i++) {
    // A copy whose signature failed claims nothing: a genuine copy after it still counts.
    if (out[i] !== 0) continue;
    if (!final.claim(ids, i * TX_ID_SIZE, height, i)) out[i] = RejectCode.DUPLICATE;
  }
  return out;
}

/**
 * Statuses whose position does not own its id in the tx index: a repeat (the id belongs to the
 * first copy) and a signature that does not verify (a forged copy must never claim the id of the
 * genuine transaction; honest nodes never order one, but a block is checked anyway).
 */
export function ownsIndexEntry(status: number): boolean {
  return status !== RejectCode.DUPLICATE && status !== RejectCode.BAD_SIGNATURE;
}
