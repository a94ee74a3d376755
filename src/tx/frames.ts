import { HotledgerError, RejectCode } from '../errors.js';
import { readU53, txId } from './codec.js';
import { contractStaticRejectCode, contractTxId, contractTxLength, CTX_MAX_SIZE, CTX_VERSION, CtxOff, verifyContractTx } from './contract-tx.js';
import { Off, SIGNATURE_SIZE, SIGNING_MESSAGE_SIZE, TX_BODY_SIZE, TX_SIZE } from './layout.js';
import { nonceRejectCode, staticRejectCode } from './rules.js';
import { verifyTransferAt } from './verify.js';

/**
 * Framing of a flat buffer of transactions of either layout: the 168-byte transfer (version 1)
 * and the variable-size contract transaction (version 2, its own u32 length at byte 4). Byte 0
 * tells them apart, so a batch, a block payload or a submission stays one flat buffer and a
 * reader walks it without decoding. Everything that steps through such a buffer uses these
 * functions; the fixed `i * TX_SIZE` step is only valid where a buffer is known to hold transfers.
 */

/**
 * Length of the transaction starting at `offset`, or 0 when none can start there. A version-2
 * transaction frames by its own length field; any other version byte frames as a 168-byte record,
 * so a transfer with a wrong version is still one slot and gets its own UNSUPPORTED_VERSION from
 * the static rules instead of making the whole buffer unreadable.
 */
export function txLengthAt(buf: Uint8Array, offset: number): number {
  if (buf[offset] === CTX_VERSION) return contractTxLength(buf, offset);
  return buf.length - offset >= TX_SIZE ? TX_SIZE : 0;
}

/**
 * Byte budget of one batch of at most `maxTxs` transactions: what that many transfers take, and
 * never less than one largest contract transaction (a deploy must fit some batch).
 */
export function maxBatchBytes(maxTxs: number): number {
  return Math.max(maxTxs * TX_SIZE, CTX_MAX_SIZE);
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
    if (buf[at] === CTX_VERSION) contracts++;
    offsets[count++] = at;
    at += len;
  }
  offsets[count] = at;
  return { offsets: offsets.subarray(0, count + 1), count, contracts };
}

/**
 * Frames the first `count` transactions of a buffer that may have spare room after them; null
 * when they do not frame.
 */
export function framePrefix(buf: Uint8Array, count: number): Frames | null {
  const offsets = new Uint32Array(count + 1);
  let contracts = 0;
  let at = 0;
  for (let i = 0; i < count; i++) {
    const len = txLengthAt(buf, at);
    if (len === 0) return null;
    if (buf[at] === CTX_VERSION) contracts++;
    offsets[i] = at;
    at += len;
  }
  offsets[count] = at;
  return { offsets, count, contracts };
}

/**
 * Whether `buf` is exactly `count` 168-byte records with no contract transaction among them, so
 * `i * TX_SIZE` steps through it. A contract transaction would have to start at one of those
 * multiples (everything before it is 168 bytes), so one byte per record proves it.
 */
export function allTransfers(buf: Uint8Array, count: number): boolean {
  if (buf.length !== count * TX_SIZE) return false;
  for (let o = 0; o < buf.length; o += TX_SIZE) if (buf[o] === CTX_VERSION) return false;
  return true;
}

/**
 * The 400 for a submission that does not frame, naming the first record that cannot start and
 * why; computed only once `frameTxs` said no, so a body that frames is walked once.
 */
export function unframedError(buf: Uint8Array): HotledgerError {
  let at = 0;
  let index = 0;
  for (let len = txLengthAt(buf, at); len !== 0 && at < buf.length; len = txLengthAt(buf, at)) {
    at += len;
    index++;
  }
  const why = isContractTxAt(buf, at) ? 'is a contract transaction whose length field is out of range or past the end' : `has only ${buf.length - at} bytes`;
  return new HotledgerError(
    'BAD_REQUEST',
    `binary body must be a concatenation of transactions (${TX_SIZE}-byte transfers, contract transactions of their own length): the record at byte ${at} (index ${index}) ${why}`,
    { length: buf.length, txSize: TX_SIZE, offset: at, index },
  );
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

/** Bytes the id and signature cover after the domain tag (everything but the signature). */
export function bodyLengthAt(buf: Uint8Array, offset: number, len: number): number {
  return buf[offset] === CTX_VERSION ? len - SIGNATURE_SIZE : TX_BODY_SIZE;
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
    const ok = b[o] === CTX_VERSION ? verifyContractTx(b.subarray(o, f.offsets[i + 1]!)) : verifyTransferAt(b, o, message);
    out[i] = ok ? 0 : RejectCode.BAD_SIGNATURE;
  }
  return out;
}
