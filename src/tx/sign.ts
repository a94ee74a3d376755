import { sign } from '../crypto/keys.js';
import { signingMessage } from './codec.js';
import { Off, TX_SIZE } from './layout.js';
import { encodeUnsigned, type UnsignedTransfer } from './transaction.js';

/** Builds and signs one transfer with noble (clients, CLI, tests). */
export function signTransfer(t: UnsignedTransfer, seed: Uint8Array, out: Buffer = Buffer.alloc(TX_SIZE), offset = 0): Buffer {
  encodeUnsigned(t, out, offset);
  const sig = sign(signingMessage(out, offset), seed);
  out.set(sig, offset + Off.SIGNATURE);
  return out;
}
