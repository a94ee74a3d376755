import { writeSigned } from './encode.js';
import { TX_SIZE } from './layout.js';
import type { UnsignedTransfer } from './transaction.js';

/** Builds and signs one transfer with noble (clients, CLI, tests). */
export function signTransfer(t: UnsignedTransfer, seed: Uint8Array, out: Buffer = Buffer.alloc(TX_SIZE), offset = 0): Buffer {
  writeSigned(t, seed, out, offset);
  return out;
}
