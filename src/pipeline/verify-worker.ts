import { allTransfers, verifyFramed } from '../tx/frames.js';
import { verifyTransactions } from '../tx/verify.js';

export interface VerifyTask {
  /** A plain (never shared) buffer of `count` transactions: libsodium misbehaves on SharedArrayBuffers. */
  txs: Uint8Array;
  count: number;
}

/** Piscina task: one status byte per tx, 0 when the signature verifies, else BAD_SIGNATURE. */
export default function verifyChunk(task: VerifyTask): Uint8Array {
  // Transfers only (the common case) skip the framing pass.
  return allTransfers(task.txs, task.count) ? verifyTransactions(task.txs, task.count) : verifyFramed(task.txs, task.count);
}
