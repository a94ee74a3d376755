import { RejectCode } from '../errors.js';
import { readU32, readU53 } from './codec.js';
import { MAX_AMOUNT, Off, TX_KIND_TRANSFER, TX_VERSION } from './layout.js';

/**
 * The rules a transaction must meet whatever the ledger state: format version, kind, chain,
 * amount, distinct parties. One copy, applied at three gates that must agree: client admission
 * (mempool), a peer's batch (a batch that breaks one proves its origin faulty) and execution (a
 * block is checked again because it may come from another validator). 0 when all hold.
 */
export function staticRejectCode(b: Buffer, o: number, chainId: number): number {
  if (b[o + Off.VERSION] !== TX_VERSION) return RejectCode.UNSUPPORTED_VERSION;
  if (b[o + Off.KIND] !== TX_KIND_TRANSFER || b[o + Off.FLAGS] !== 0 || b[o + Off.FLAGS + 1] !== 0) return RejectCode.UNSUPPORTED_KIND;
  if (readU32(b, o + Off.CHAIN_ID) !== chainId) return RejectCode.WRONG_CHAIN;
  const amount = readU53(b, o + Off.AMOUNT);
  if (amount === 0) return RejectCode.ZERO_AMOUNT;
  if (amount < 0 || amount > MAX_AMOUNT) return RejectCode.AMOUNT_TOO_LARGE;
  if (b.compare(b, o + Off.RECIPIENT, o + Off.RECIPIENT + 32, o + Off.SENDER, o + Off.SENDER + 32) === 0) return RejectCode.SELF_TRANSFER;
  return 0;
}

/** Nonce rule known without state: nonces start at 1 and must fit a safe integer. 0 when it holds. */
export function nonceRejectCode(b: Uint8Array, o: number): number {
  const nonce = readU53(b, o + Off.NONCE);
  if (nonce === 0) return RejectCode.NONCE_TOO_LOW;
  if (nonce < 0) return RejectCode.NONCE_TOO_FAR;
  return 0;
}
