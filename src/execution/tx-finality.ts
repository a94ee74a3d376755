import { RejectCode } from '../errors.js';
import { TX_ID_SIZE } from '../tx/layout.js';

/**
 * A transaction id has one final outcome. Once a block holds a transaction with some id (committed
 * or rejected), no later copy counts: not in a later block, and not later in the same block. Such
 * a copy executes as DUPLICATE (no balance or nonce effect) and is not written to the tx index, so
 * the first record is never overwritten. Without this, the same signed transfer submitted to two
 * validators lands twice and the second copy's NONCE_MISMATCH replaced the record of the first,
 * whose money had moved.
 *
 * Deterministic on every node: it depends only on the chain before the block and on the block.
 *
 * @param isFinal whether an earlier block holds this id (`key` is the id as a latin1 string)
 * @returns `verified` with DUPLICATE at repeated positions (a copy; the input is not modified), and
 *   `claimed`: the ids (latin1 keys) this block makes final. Execution adds no DUPLICATE or
 *   BAD_SIGNATURE of its own, so these are exactly the ids of positions that own an index entry,
 *   plus ids that were final already.
 */
export function markRepeats(
  ids: Uint8Array,
  count: number,
  verified: Uint8Array,
  isFinal: (id: Uint8Array, key: string) => boolean,
): { verified: Uint8Array; claimed: Set<string> } {
  const out = new Uint8Array(count);
  out.set(verified.subarray(0, count));
  const claimed = new Set<string>();
  const b = Buffer.from(ids.buffer, ids.byteOffset, count * TX_ID_SIZE);
  for (let i = 0; i < count; i++) {
    // A copy whose signature failed claims nothing: a genuine copy after it still counts.
    if (out[i] !== 0) continue;
    const key = b.toString('latin1', i * TX_ID_SIZE, (i + 1) * TX_ID_SIZE);
    if (claimed.has(key)) {
      out[i] = RejectCode.DUPLICATE;
      continue;
    }
    claimed.add(key);
    if (isFinal(b.subarray(i * TX_ID_SIZE, (i + 1) * TX_ID_SIZE), key)) out[i] = RejectCode.DUPLICATE;
  }
  return { verified: out, claimed };
}

/**
 * Statuses whose position does not own its id in the tx index: a repeat (the id belongs to the
 * first copy) and a signature that does not verify (a forged copy must never claim the id of the
 * genuine transaction; honest nodes never order one, but a block is checked anyway).
 */
export function ownsIndexEntry(status: number): boolean {
  return status !== RejectCode.DUPLICATE && status !== RejectCode.BAD_SIGNATURE;
}
