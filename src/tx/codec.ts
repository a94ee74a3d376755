import { hash } from 'node:crypto';
import { writeSigningMessage } from './bytes.js';
import { SIGNING_MESSAGE_SIZE, TX_BODY_SIZE } from './layout.js';

// The byte helpers are platform-free (bytes.ts, shared with the browser client); the id below is node's.
export { readU53, writeU53, readU32, writeU32, txAt } from './bytes.js';

/** The bytes covered by the signature: SIGNING_DOMAIN || body (chain id included in the body). */
export function signingMessage(tx: Uint8Array, txOffset = 0, out: Buffer = Buffer.allocUnsafe(SIGNING_MESSAGE_SIZE)): Buffer {
  writeSigningMessage(tx, txOffset, out);
  return out;
}

/**
 * Transaction id: SHA-256 of the body (bytes 0..103). Independent of the signature bytes.
 * The one-shot `crypto.hash` costs about a third less than createHash() per call on the admission
 * path, which is why the node does not share the client's pure-JS id (src/client/transfer.ts
 * transactionId, noble); test/client/tx-id.test.ts checks the two agree.
 */
export function txId(tx: Uint8Array, txOffset = 0): Buffer {
  return hash('sha256', tx.subarray(txOffset, txOffset + TX_BODY_SIZE), 'buffer');
}
