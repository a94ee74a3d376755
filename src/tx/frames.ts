import { RejectCode } from '../errors.js';
import { verifySignature } from '../crypto/ed25519.js';
import { readU53, signingMessage, txId } from './codec.js';
import { contractStaticRejectCode, contractTxId, contractTxLength, CTX_VERSION, CtxOff, verifyContractTx } from './contract-tx.js';
import { KEY_SIZE, Off, SIGNATURE_SIZE, SIGNING_MESSAGE_SIZE, TX_SIZE, TX_VERSION } from './layout.js';
import { nonceRejectCode, staticRejectCode } from './rules.js';

/**
 * Framing of a flat buffer of transactions of either layout: the 168-byte transfer (version 1)
 * and the variable-size contract transaction (version 2, its own u32 length at byte 4). Byte 0
 * tells them apart, so a batch, a block payload or a submission stays one flat buffer and a
 * reader walks it without decoding. Everything that steps through such a buffer uses these
 * functions; the fixed `i * TX_SIZE` step is only valid where a buffer is known to hold transfers.
 */

/** Length of the transaction starting at `offset`, or 0 when none can start there (unknown version, truncated, length out of range). */
export function txLengthAt(buf: Uint8Array, offset: number): number {
  const v = buf[offset];
  if (v === TX_VERSION) return buf.length - offset >= TX_SIZE ? TX_SIZE : 0;
  if (v === CTX_VERSION) return contractTxLength(buf, offset);
  return 0;
}

export interface Frames {
  /** Start of each transaction, then the end of the last: `count + 1` entries. */
  offsets: Uint32Array;
  count: number;
  /** How many are contract transactions (0: every step is TX_SIZE). */
  contracts: number;
}

/**
 * Frames a whole buffer: null when it is not an exact concatenation of transactions (a frame
 * that cannot start, or bytes left over) or holds more than `maxCount`.
 */
export function frameTxs(buf: Uint8Array, maxCount = Number.POSITIVE_INFINITY): Frames | null {
  // Sized for the all-transfer case; grown (rarely: contract transactions are smaller than 168 bytes only as tiny deploys).
  let offsets = new Uint32Array(Math.floor(buf.length / TX_SIZE) + 2);
  let count = 0;
  let contracts = 0;
  let at = 0;
  while (at < buf.length) {
    if (count >= maxCount) return null;
    const len = txLengthAt(buf, at);
    if (len === 0) return null;
    if (count + 2 > offsets.length) {
      const grown = new Uint32Array(offsets.length * 2);
      grown.set(offsets);
      offsets = grown;
    }
    if (len !== TX_SIZE || buf[at] !== TX_VERSION) contracts++;
    offsets[count++] = at;
    at += len;
  }
  offsets[count] = at;
  return { offsets: offsets.subarray(0, count + 1), count, contracts };
}

/** Frames of a buffer known to hold only transfers (no scan). */
export function transferFrames(count: number): Frames {
  const offsets = new Uint32Array(count + 1);
  for (let i = 0; i <= count; i++) offsets[i] = i * TX_SIZE;
  return { offsets, count, contracts: 0 };
}

/** Frames, throwing when the buffer does not frame: for buffers this node built or already checked. */
export function mustFrame(buf: Uint8Array): Frames {
  const f = frameTxs(buf);
  if (!f) throw new Error(`transaction buffer of ${buf.length} bytes does not frame`);
  return f;
}

export function isContractTxAt(buf: Uint8Array, offset: number): boolean {
  return buf[offset] === CTX_VERSION;
}

/** Where the sender's public key starts (32 bytes). */
export function senderOffset(buf: Uint8Array, offset: number): number {
  return offset + (buf[offset] === CTX_VERSION ? CtxOff.SENDER : Off.SENDER);
}

export function nonceAt(buf: Uint8Array, offset: number): number {
  return readU53(buf, offset + (buf[offset] === CTX_VERSION ? CtxOff.NONCE : Off.NONCE));
}

/** Transaction id: SHA-256 of the body, whichever the layout. `len` from the frame. */
export function txIdAt(buf: Uint8Array, offset: number, len: number): Buffer {
  if (buf[offset] === CTX_VERSION) return contractTxId(buf.subarray(offset, offset + len));
  return txId(buf, offset);
}

/** The stateless rules of either layout (for transfers: staticRejectCode, then nonceRejectCode). 0 when all hold. */
export function staticRejectAt(buf: Buffer, offset: number, len: number, chainId: number): number {
  if (buf[offset] === CTX_VERSION) return contractStaticRejectCode(buf.subarray(offset, offset + len), chainId);
  if (len !== TX_SIZE) return RejectCode.WRONG_SIZE;
  return staticRejectCode(buf, offset, chainId) || nonceRejectCode(buf, offset);
}

/**
 * One status byte per framed transaction: 0 when its signature verifies, else BAD_SIGNATURE.
 * A buffer that does not frame gets BAD_SIGNATURE for every slot it was said to hold.
 */
export function verifyFramed(txs: Uint8Array, count: number): Uint8Array {
  const b = Buffer.from(txs.buffer, txs.byteOffset, txs.byteLength);
  const out = new Uint8Array(count);
  const f = frameTxs(b);
  if (!f || f.count !== count) return out.fill(RejectCode.BAD_SIGNATURE);
  const message = Buffer.allocUnsafe(SIGNING_MESSAGE_SIZE);
  for (let i = 0; i < count; i++) {
    const o = f.offsets[i]!;
    let ok: boolean;
    if (b[o] === CTX_VERSION) ok = verifyContractTx(b.subarray(o, f.offsets[i + 1]!));
    else {
      signingMessage(b, o, message);
      ok = verifySignature(b.subarray(o + Off.SIGNATURE, o + Off.SIGNATURE + SIGNATURE_SIZE), message, b.subarray(o + Off.SENDER, o + Off.SENDER + KEY_SIZE));
    }
    out[i] = ok ? 0 : RejectCode.BAD_SIGNATURE;
  }
  return out;
}
