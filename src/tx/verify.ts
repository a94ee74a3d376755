import { verifySignature } from '../crypto/ed25519.js';
import { RejectCode } from '../errors.js';
import { signingMessage } from './codec.js';
import { KEY_SIZE, Off, SIGNATURE_SIZE, SIGNING_MESSAGE_SIZE, TX_SIZE } from './layout.js';

/**
 * One status byte per transaction: 0 when its signature verifies (libsodium, strict), else
 * BAD_SIGNATURE. `txs` must not be backed by a SharedArrayBuffer (see verifySignature).
 */
export function verifyTransactions(txs: Uint8Array, count: number): Uint8Array {
  const b = Buffer.from(txs.buffer, txs.byteOffset, txs.byteLength);
  const out = new Uint8Array(count);
  const message = Buffer.allocUnsafe(SIGNING_MESSAGE_SIZE);
  for (let i = 0; i < count; i++) out[i] = verifyTransferAt(b, i * TX_SIZE, message) ? 0 : RejectCode.BAD_SIGNATURE;
  return out;
}

/** The signature check of the transfer at `o`; `message` is scratch of SIGNING_MESSAGE_SIZE bytes. */
export function verifyTransferAt(b: Buffer, o: number, message: Buffer): boolean {
  signingMessage(b, o, message);
  return verifySignature(b.subarray(o + Off.SIGNATURE, o + Off.SIGNATURE + SIGNATURE_SIZE), message, b.subarray(o + Off.SENDER, o + Off.SENDER + KEY_SIZE));
}
