import { sha256 } from '@noble/hashes/sha2.js';
import { writeSigned } from '../tx/encode.js';
import { TX_BODY_SIZE, TX_SIZE, KEY_SIZE, REFERENCE_SIZE } from '../tx/layout.js';
import { bytesOf, hexOf } from './hex.js';

/** A signed transfer: its 168 bytes (what is sent, and resent on retry) and its id. */
export interface SignedTransaction {
  readonly bytes: Uint8Array;
  /** SHA-256 of the body, lowercase hex: the id the node reports it under. */
  readonly id: string;
  readonly sender: string;
  readonly nonce: number;
}

export interface TransferFields {
  chainId: number;
  from: { seed: Uint8Array; publicKey: Uint8Array };
  to: Uint8Array | string;
  amount: number | bigint;
  nonce: number;
  reference?: Uint8Array | string;
}

/** Builds and signs with the one encoder (src/tx/encode.ts); the id is computed with noble. */
export function signTransferTx(f: TransferFields): SignedTransaction {
  const amount = typeof f.amount === 'bigint' ? Number(f.amount) : f.amount;
  if (typeof f.amount === 'bigint' && BigInt(amount) !== f.amount) throw new RangeError('amount out of range');
  const bytes = new Uint8Array(TX_SIZE);
  writeSigned(
    {
      chainId: f.chainId,
      sender: f.from.publicKey,
      recipient: bytesOf(f.to, 'recipient', KEY_SIZE),
      amount,
      nonce: f.nonce,
      ...(f.reference !== undefined && { reference: bytesOf(f.reference, 'reference', REFERENCE_SIZE) }),
    },
    f.from.seed,
    bytes,
  );
  return { bytes, id: transactionId(bytes), sender: hexOf(f.from.publicKey), nonce: f.nonce };
}

/**
 * The node's id of a transaction (SHA-256 of the body), with noble: the node computes the same
 * with node:crypto (src/tx/codec.ts txId), faster there but unavailable in browsers.
 */
export function transactionId(tx: Uint8Array): string {
  if (tx.length !== TX_SIZE) throw new RangeError(`a transaction is ${TX_SIZE} bytes`);
  return hexOf(sha256(tx.subarray(0, TX_BODY_SIZE)));
}
