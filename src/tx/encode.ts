import { sign } from '../crypto/noble.js';
import { HotledgerError } from '../errors.js';
import { signingMessageOf, writeU32, writeU53 } from './bytes.js';
import { KEY_SIZE, MAX_AMOUNT, Off, REFERENCE_SIZE, TX_KIND_TRANSFER, TX_SIZE, TX_VERSION } from './layout.js';

// The one transfer encoder, platform-free (Uint8Array, noble): the browser client builds with it;
// transaction.ts and sign.ts wrap it with Buffer defaults for node callers.

export interface UnsignedTransfer {
  chainId: number;
  sender: Uint8Array;
  recipient: Uint8Array;
  amount: number;
  nonce: number;
  reference?: Uint8Array;
}

/** Writes the body of a transfer (signature left zero) into `out` at `offset`. */
export function writeUnsigned(t: UnsignedTransfer, out: Uint8Array, offset = 0): void {
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
}

/** Builds and signs one transfer with noble into `out` at `offset` (clients, CLI, tests). */
export function writeSigned(t: UnsignedTransfer, seed: Uint8Array, out: Uint8Array, offset = 0): void {
  writeUnsigned(t, out, offset);
  out.set(sign(signingMessageOf(out, offset), seed), offset + Off.SIGNATURE);
}
