import { KEY_SIZE, Off, REFERENCE_SIZE, SIGNATURE_SIZE, TX_KIND_TRANSFER, TX_SIZE, TX_VERSION } from '../tx/layout.js';
import { writeU32 } from '../tx/codec.js';
import { badRequest } from './errors.js';

/**
 * The JSON form of a signed transfer (docs/api.md):
 * `{ chainId, from | sender, to | recipient, amount, nonce, reference?, signature }` with keys and
 * signature as hex, amount and nonce as decimal strings or safe integers. It is converted byte for
 * byte to the binary layout (src/tx/layout.ts); the signature must cover exactly those bytes.
 * Values that fit the u64 wire field but break a ledger rule (amount 0, amount above 2^53 - 1, wrong
 * chain) are encoded as given, so the node rejects them with their own code, like binary submissions.
 */
export interface JsonTransfer {
  chainId: number;
  from?: string;
  sender?: string;
  to?: string;
  recipient?: string;
  amount: string | number;
  nonce: string | number;
  reference?: string;
  signature: string;
}

const U64_MAX = (1n << 64n) - 1n;
const HEX = /^[0-9a-fA-F]*$/;

function hexField(v: unknown, name: string, bytes: number, index: number): Buffer {
  if (typeof v !== 'string' || v.length !== bytes * 2 || !HEX.test(v)) {
    throw badRequest(`transaction ${index}: ${name} must be ${bytes * 2} hex digits`, { index, field: name });
  }
  return Buffer.from(v, 'hex');
}

function u64Field(v: unknown, name: string, index: number): bigint {
  let n: bigint | undefined;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) n = BigInt(v);
  else if (typeof v === 'string' && /^\d{1,20}$/.test(v)) n = BigInt(v);
  if (n === undefined || n > U64_MAX) {
    throw badRequest(`transaction ${index}: ${name} must be a non-negative integer (decimal string or safe integer) that fits 64 bits`, { index, field: name });
  }
  return n;
}

/** Encodes one JSON transfer into `out` at `offset` (TX_SIZE bytes). Throws 400 with the index on malformed input. */
export function encodeJsonTransfer(v: unknown, index: number, out: Buffer, offset: number): void {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw badRequest(`transaction ${index}: must be a JSON object`, { index });
  const t = v as Record<string, unknown>;
  const chainId = t.chainId;
  if (typeof chainId !== 'number' || !Number.isInteger(chainId) || chainId < 0 || chainId > 0xffffffff) {
    throw badRequest(`transaction ${index}: chainId must be an integer from 0 to 4294967295`, { index, field: 'chainId' });
  }
  const sender = hexField(t.from ?? t.sender, t.from !== undefined ? 'from' : 'sender', KEY_SIZE, index);
  const recipient = hexField(t.to ?? t.recipient, t.to !== undefined ? 'to' : 'recipient', KEY_SIZE, index);
  const amount = u64Field(t.amount, 'amount', index);
  const nonce = u64Field(t.nonce, 'nonce', index);
  const reference = t.reference === undefined || t.reference === null ? Buffer.alloc(REFERENCE_SIZE) : hexField(t.reference, 'reference', REFERENCE_SIZE, index);
  const signature = hexField(t.signature, 'signature', SIGNATURE_SIZE, index);
  out.fill(0, offset, offset + TX_SIZE);
  out[offset + Off.VERSION] = TX_VERSION;
  out[offset + Off.KIND] = TX_KIND_TRANSFER;
  writeU32(out, offset + Off.CHAIN_ID, chainId);
  sender.copy(out, offset + Off.SENDER);
  recipient.copy(out, offset + Off.RECIPIENT);
  out.writeBigUInt64LE(amount, offset + Off.AMOUNT);
  out.writeBigUInt64LE(nonce, offset + Off.NONCE);
  reference.copy(out, offset + Off.REFERENCE);
  signature.copy(out, offset + Off.SIGNATURE);
}

/** A JSON body (one object or an array of them) → concatenated binary transactions. */
export function jsonBodyToTxs(body: Buffer, maxTxs: number): Buffer {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw badRequest(`body is not valid JSON: ${(e as Error).message}`);
  }
  const list = Array.isArray(parsed) ? parsed : [parsed];
  if (list.length === 0) throw badRequest('no transactions in the request');
  if (list.length > maxTxs) throw badRequest(`at most ${maxTxs} transactions per request`, { limit: maxTxs });
  const out = Buffer.alloc(list.length * TX_SIZE);
  list.forEach((v, i) => encodeJsonTransfer(v, i, out, i * TX_SIZE));
  return out;
}

/** The JSON form of a binary transfer (for clients that sign locally and post JSON). */
export function transferToJson(tx: Uint8Array, offset = 0): JsonTransfer {
  const b = Buffer.from(tx.buffer, tx.byteOffset + offset, TX_SIZE);
  return {
    chainId: b.readUInt32LE(Off.CHAIN_ID),
    from: b.subarray(Off.SENDER, Off.SENDER + KEY_SIZE).toString('hex'),
    to: b.subarray(Off.RECIPIENT, Off.RECIPIENT + KEY_SIZE).toString('hex'),
    amount: b.readBigUInt64LE(Off.AMOUNT).toString(),
    nonce: b.readBigUInt64LE(Off.NONCE).toString(),
    reference: b.subarray(Off.REFERENCE, Off.REFERENCE + REFERENCE_SIZE).toString('hex'),
    signature: b.subarray(Off.SIGNATURE, Off.SIGNATURE + SIGNATURE_SIZE).toString('hex'),
  };
}
