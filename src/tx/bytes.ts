import { SIGNING_DOMAIN, SIGNING_MESSAGE_SIZE, TX_BODY_SIZE, TX_SIZE, MAX_AMOUNT } from './layout.js';

// Plain Uint8Array code, no node: import and no Buffer: `hotledger/client` runs it in browsers.
// The node reaches these through codec.ts, which adds the node-only transaction id.

/**
 * Reads a u64 LE that must fit in a safe integer; returns -1 when it does not, so callers can
 * reject without a throw on the hot path.
 */
export function readU53(buf: Uint8Array, off: number): number {
  const lo = (buf[off]! | (buf[off + 1]! << 8) | (buf[off + 2]! << 16) | (buf[off + 3]! << 24)) >>> 0;
  const hi = (buf[off + 4]! | (buf[off + 5]! << 8) | (buf[off + 6]! << 16) | (buf[off + 7]! << 24)) >>> 0;
  if (hi > 0x1fffff) return -1;
  return hi * 0x1_0000_0000 + lo;
}

export function writeU53(buf: Uint8Array, off: number, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > MAX_AMOUNT) throw new RangeError(`not a u53: ${value}`);
  const lo = value >>> 0;
  const hi = Math.floor(value / 0x1_0000_0000);
  buf[off] = lo & 0xff;
  buf[off + 1] = (lo >>> 8) & 0xff;
  buf[off + 2] = (lo >>> 16) & 0xff;
  buf[off + 3] = lo >>> 24;
  buf[off + 4] = hi & 0xff;
  buf[off + 5] = (hi >>> 8) & 0xff;
  buf[off + 6] = (hi >>> 16) & 0xff;
  buf[off + 7] = hi >>> 24;
}

export function readU32(buf: Uint8Array, off: number): number {
  return (buf[off]! | (buf[off + 1]! << 8) | (buf[off + 2]! << 16) | (buf[off + 3]! << 24)) >>> 0;
}

export function writeU32(buf: Uint8Array, off: number, value: number): void {
  buf[off] = value & 0xff;
  buf[off + 1] = (value >>> 8) & 0xff;
  buf[off + 2] = (value >>> 16) & 0xff;
  buf[off + 3] = (value >>> 24) & 0xff;
}

/** Writes the bytes covered by the signature, SIGNING_DOMAIN || body (chain id included in the body), into `out`. */
export function writeSigningMessage(tx: Uint8Array, txOffset: number, out: Uint8Array): void {
  out.set(SIGNING_DOMAIN, 0);
  out.set(tx.subarray(txOffset, txOffset + TX_BODY_SIZE), SIGNING_DOMAIN.length);
}

export function signingMessageOf(tx: Uint8Array, txOffset = 0): Uint8Array {
  const out = new Uint8Array(SIGNING_MESSAGE_SIZE);
  writeSigningMessage(tx, txOffset, out);
  return out;
}

export function txAt(batch: Uint8Array, index: number): Uint8Array {
  return batch.subarray(index * TX_SIZE, (index + 1) * TX_SIZE);
}
