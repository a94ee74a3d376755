import { HotledgerError } from '../errors.js';
import { readU32, readU53, signingMessage, txId, writeU32, writeU53 } from './codec.js';
import { KEY_SIZE, MAX_AMOUNT, Off, REFERENCE_SIZE, SIGNATURE_SIZE, TX_KIND_TRANSFER, TX_SIZE, TX_VERSION } from './layout.js';

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

export interface UnsignedTransfer {
  chainId: number;
  sender: Uint8Array;
  recipient: Uint8Array;
  amount: number;
  nonce: number;
  reference?: Uint8Array;
}

/** Writes the body of a transfer (signature left zero) into `out` at `offset`. */
export function encodeUnsigned(t: UnsignedTransfer, out: Buffer = Buffer.alloc(TX_SIZE), offset = 0): Buffer {
  if (t.sender.length !== KEY_SIZE || t.recipient.length !== KEY_SIZE) throw new HotledgerError('BAD_REQUEST', 'keys must be 32 bytes');
  if (!Number.isInteger(t.chainId) || t.chainId < 0 || t.chainId > 0xffffffff) throw new HotledgerError('BAD_REQUEST', 'chain id must be a u32');
  if (t.amount < 0 || t.amount > MAX_AMOUNT || !Number.isSafeInteger(t.amount)) throw new HotledgerError('BAD_REQUEST', 'amount out of range');
  if (t.nonce < 0 || t.nonce > MAX_AMOUNT || !Number.isSafeInteger(t.nonce)) throw new HotledgerError('BAD_REQUEST', 'nonce out of range');
  const ref = t.reference ?? new Uint8Array(REFERENCE_SIZE);
  if (ref.length !== REFERENCE_SIZE) throw new HotledgerError('BAD_REQUEST', 'reference must be 16 bytes');
  out.fill(0, offset, offset + TX_SIZE);
  out[offset + Off.VERSION] = TX_VERSION;
  out[offset + Off.KIND] = TX_KIND_TRANSFER;
  writeU32(out, offset + Off.CHAIN_ID, t.chainId);
  out.set(t.sender, offset + Off.SENDER);
  out.set(t.recipient, offset + Off.RECIPIENT);
  writeU53(out, offset + Off.AMOUNT, t.amount);
  writeU53(out, offset + Off.NONCE, t.nonce);
  out.set(ref, offset + Off.REFERENCE);
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
