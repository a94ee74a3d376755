import { verifySignature } from '../crypto/ed25519.js';
import { RejectCode } from '../errors.js';
import { signingMessage } from '../tx/codec.js';
import { KEY_SIZE, Off, SIGNATURE_SIZE, SIGNING_MESSAGE_SIZE, TX_SIZE } from '../tx/layout.js';

export interface VerifyTask {
  /** A plain (never shared) buffer of `count` transactions: libsodium misbehaves on SharedArrayBuffers. */
  txs: Uint8Array;
  count: number;
}

const message = Buffer.allocUnsafe(SIGNING_MESSAGE_SIZE);

/** Piscina task: one byte per tx, 0 when the signature verifies, else BAD_SIGNATURE. */
export default function verifyChunk(task: VerifyTask): Uint8Array {
  const txs = Buffer.from(task.txs.buffer, task.txs.byteOffset, task.txs.byteLength);
  const out = new Uint8Array(task.count);
  for (let i = 0; i < task.count; i++) {
    const o = i * TX_SIZE;
    signingMessage(txs, o, message);
    const ok = verifySignature(
      txs.subarray(o + Off.SIGNATURE, o + Off.SIGNATURE + SIGNATURE_SIZE),
      message,
      txs.subarray(o + Off.SENDER, o + Off.SENDER + KEY_SIZE),
    );
    out[i] = ok ? 0 : RejectCode.BAD_SIGNATURE;
  }
  return out;
}
