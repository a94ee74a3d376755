import { HotledgerError } from '../errors.js';
import { readU32, readU53, signingMessage, txId } from './codec.js';
import { writeUnsigned, type UnsignedTransfer } from './encode.js';
import { KEY_SIZE, Off, REFERENCE_SIZE, SIGNATURE_SIZE, TX_SIZE } from './layout.js';

export type { UnsignedTransfer };

/** A decoded transfer, for people and tooling. The hot path works on the raw bytes instead. */
export interface Transfer {
  version: number;
  kind: number;
  chainId: number;
  sender: Buffer;
  recipient: Buffer;
  amount: number;
  nonce: number;
  reference: Buffer;
  signature: Buffer;
}

/** Writes the body of a transfer (signature left zero) into `out` at `offset`. */
export function encodeUnsigned(t: UnsignedTransfer, out: Buffer = Buffer.alloc(TX_SIZE), offset = 0): Buffer {
  writeUnsigned(t, out, offset);
  return out;
}

export function decodeTransfer(tx: Uint8Array, offset = 0): Transfer {
  if (!Number.isInteger(offset) || offset < 0 || tx.length - offset < TX_SIZE) throw new HotledgerError('BAD_REQUEST', `transaction needs ${TX_SIZE} bytes`);
  const b = Buffer.from(tx.buffer, tx.byteOffset + offset, TX_SIZE);
  return {
    version: b[Off.VERSION]!,
    kind: b[Off.KIND]!,
    chainId: readU32(b, Off.CHAIN_ID),
    sender: Buffer.from(b.subarray(Off.SENDER, Off.SENDER + KEY_SIZE)),
    recipient: Buffer.from(b.subarray(Off.RECIPIENT, Off.RECIPIENT + KEY_SIZE)),
    amount: readU53(b, Off.AMOUNT),
    nonce: readU53(b, Off.NONCE),
    reference: Buffer.from(b.subarray(Off.REFERENCE, Off.REFERENCE + REFERENCE_SIZE)),
    signature: Buffer.from(b.subarray(Off.SIGNATURE, Off.SIGNATURE + SIGNATURE_SIZE)),
  };
}

export { signingMessage, txId };
