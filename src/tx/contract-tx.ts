import { hash } from 'node:crypto';
import { MAX_ARGS_SIZE, MAX_CODE_SIZE, MAX_METHOD_LENGTH, MAX_TX_GAS } from '../contracts/limits.js';
import { verifySignature } from '../crypto/ed25519.js';
import { sign } from '../crypto/keys.js';
import { HotledgerError, RejectCode, rejectMessage, rejectName } from '../errors.js';
import { readU32, readU53, writeU32, writeU53 } from './codec.js';
import { KEY_SIZE, MAX_AMOUNT, SIGNATURE_SIZE } from './layout.js';

/**
 * Contract transactions: deploy and call, in the versioned variable-size layout of
 * docs/transaction-format.md#contract-transactions. The 168-byte transfer (version 1) is untouched;
 * a reader of a mixed buffer tells the two apart by byte 0 and frames a version-2 transaction by
 * its own `length` field. Signed like transfers (pure Ed25519 by `sender`) but under the domain
 * tag `hotledger/tx/v2\0`, so a contract signature can never validate as a transfer's.
 */
export const CTX_VERSION = 2;
export const TX_KIND_DEPLOY = 2;
export const TX_KIND_CALL = 3;

export const CtxOff = {
  VERSION: 0, // u8 = 2
  KIND: 1, // u8: 2 deploy, 3 call
  FLAGS: 2, // u16, 0
  LENGTH: 4, // u32: whole transaction, signature included
  CHAIN_ID: 8, // u32
  SENDER: 12, // 32 bytes
  NONCE: 44, // u64, same sequence as the sender's transfers
  GAS_LIMIT: 52, // u64
  PAYLOAD: 60, // kind-specific fields
} as const;

/** Deploy payload: u32 code length, code, u32 init-args length, init args. */
export const CTX_HEADER_SIZE = CtxOff.PAYLOAD;
/** Call payload: contract (32), amount (u64), u8 method length, method, u32 args length, args. */
export const CALL_FIXED_SIZE = KEY_SIZE + 8 + 1;
export const CTX_MIN_DEPLOY_SIZE = CTX_HEADER_SIZE + 4 + 4 + SIGNATURE_SIZE;
export const CTX_MIN_CALL_SIZE = CTX_HEADER_SIZE + CALL_FIXED_SIZE + 1 + 4 + SIGNATURE_SIZE;
export const CTX_MAX_SIZE = CTX_HEADER_SIZE + 4 + MAX_CODE_SIZE + 4 + MAX_ARGS_SIZE + SIGNATURE_SIZE;

export const CTX_SIGNING_DOMAIN = Buffer.from('hotledger/tx/v2\0', 'latin1'); // 16 bytes

/** Methods a call transaction may not name: `init` runs once, at deploy; `__hl_*` is the instrumentation's. */
const METHOD_RE = /^[A-Za-z0-9_]+$/;
export function methodRejectCode(method: string): number {
  if (method.length === 0 || method.length > MAX_METHOD_LENGTH || !METHOD_RE.test(method)) return RejectCode.BAD_METHOD;
  if (method === 'init' || method.startsWith('__hl_')) return RejectCode.BAD_METHOD;
  return 0;
}

interface ContractTxCommon {
  chainId: number;
  sender: Uint8Array;
  nonce: number;
  gasLimit: number;
}
export interface UnsignedDeploy extends ContractTxCommon {
  kind: 'deploy';
  code: Uint8Array;
  initArgs?: Uint8Array;
}
export interface UnsignedCall extends ContractTxCommon {
  kind: 'call';
  contract: Uint8Array;
  method: string;
  args?: Uint8Array;
  amount?: number;
}
export type UnsignedContractTx = UnsignedDeploy | UnsignedCall;

export type ContractTx =
  | (Required<UnsignedDeploy> & { signature: Buffer; id: Buffer; length: number })
  | (Required<UnsignedCall> & { signature: Buffer; id: Buffer; length: number });

/** A transaction-level failure: `reject` is the RejectCode the node reports for it. */
export class ContractTxError extends HotledgerError {
  readonly reject: number;
  constructor(reject: number, detail?: string) {
    const name = rejectName(reject);
    super('INVALID_TRANSACTION', detail ? `${name === 'UNKNOWN' ? 'invalid' : rejectMessage[name]}: ${detail}` : name === 'UNKNOWN' ? 'invalid' : rejectMessage[name], {
      reject,
      code: name,
    });
    this.name = 'ContractTxError';
    this.reject = reject;
  }
}

function checkCommon(t: ContractTxCommon): void {
  if (t.sender.length !== KEY_SIZE) throw new HotledgerError('BAD_REQUEST', 'sender must be 32 bytes');
  if (!Number.isInteger(t.chainId) || t.chainId < 0 || t.chainId > 0xffffffff) throw new HotledgerError('BAD_REQUEST', 'chain id must be a u32');
  if (!Number.isSafeInteger(t.nonce) || t.nonce < 0) throw new HotledgerError('BAD_REQUEST', 'nonce out of range');
  if (!Number.isSafeInteger(t.gasLimit) || t.gasLimit < 0) throw new HotledgerError('BAD_REQUEST', 'gas limit out of range');
}

/** Encoded size of a transaction, signature included. */
export function contractTxSize(t: UnsignedContractTx): number {
  if (t.kind === 'deploy') return CTX_HEADER_SIZE + 4 + t.code.length + 4 + (t.initArgs?.length ?? 0) + SIGNATURE_SIZE;
  return CTX_HEADER_SIZE + CALL_FIXED_SIZE + Buffer.byteLength(t.method, 'latin1') + 4 + (t.args?.length ?? 0) + SIGNATURE_SIZE;
}

/**
 * Writes the body (signature left zero). Like `encodeUnsigned` for transfers, it refuses what
 * cannot be encoded at all (BAD_REQUEST) but still encodes what the node rejects (gas limit 0,
 * oversize code, a reserved method), so those rejections can be tested.
 */
export function encodeContractTx(t: UnsignedContractTx): Buffer {
  checkCommon(t);
  if (t.kind === 'call') {
    if (t.contract.length !== KEY_SIZE) throw new HotledgerError('BAD_REQUEST', 'contract address must be 32 bytes');
    if (!/^[\x20-\x7e]*$/.test(t.method) || t.method.length > 255) throw new HotledgerError('BAD_REQUEST', 'method must be printable ASCII of at most 255 characters');
    const amount = t.amount ?? 0;
    if (!Number.isSafeInteger(amount) || amount < 0) throw new HotledgerError('BAD_REQUEST', 'amount out of range');
  }
  const size = contractTxSize(t);
  const out = Buffer.alloc(size);
  out[CtxOff.VERSION] = CTX_VERSION;
  out[CtxOff.KIND] = t.kind === 'deploy' ? TX_KIND_DEPLOY : TX_KIND_CALL;
  writeU32(out, CtxOff.LENGTH, size);
  writeU32(out, CtxOff.CHAIN_ID, t.chainId);
  out.set(t.sender, CtxOff.SENDER);
  writeU53(out, CtxOff.NONCE, t.nonce);
  writeU53(out, CtxOff.GAS_LIMIT, t.gasLimit);
  let o: number = CtxOff.PAYLOAD;
  if (t.kind === 'deploy') {
    const init = t.initArgs ?? new Uint8Array(0);
    writeU32(out, o, t.code.length);
    out.set(t.code, o + 4);
    o += 4 + t.code.length;
    writeU32(out, o, init.length);
    out.set(init, o + 4);
  } else {
    const args = t.args ?? new Uint8Array(0);
    out.set(t.contract, o);
    writeU53(out, o + KEY_SIZE, t.amount ?? 0);
    o += KEY_SIZE + 8;
    out[o] = t.method.length;
    out.write(t.method, o + 1, 'latin1');
    o += 1 + t.method.length;
    writeU32(out, o, args.length);
    out.set(args, o + 4);
  }
  return out;
}

/** The bytes covered by the signature: CTX_SIGNING_DOMAIN || body (everything but the last 64 bytes). */
export function contractSigningMessage(tx: Uint8Array): Buffer {
  const len = readU32(tx, CtxOff.LENGTH);
  return Buffer.concat([CTX_SIGNING_DOMAIN, tx.subarray(0, len - SIGNATURE_SIZE)]);
}

/** Transaction id: SHA-256 of the body, as for transfers (independent of the signature). */
export function contractTxId(tx: Uint8Array): Buffer {
  const len = readU32(tx, CtxOff.LENGTH);
  return hash('sha256', tx.subarray(0, len - SIGNATURE_SIZE), 'buffer');
}

export function signContractTx(t: UnsignedContractTx, seed: Uint8Array): Buffer {
  const out = encodeContractTx(t);
  out.set(sign(contractSigningMessage(out), seed), out.length - SIGNATURE_SIZE);
  return out;
}

/**
 * Length of the contract transaction at `offset` of a buffer, from its own length field, or 0
 * when the bytes there cannot be one (too short, wrong version, length out of range). Lets a
 * batch reader frame variable-size transactions without decoding them.
 */
export function contractTxLength(buf: Uint8Array, offset = 0): number {
  if (buf.length - offset < CTX_HEADER_SIZE || buf[offset + CtxOff.VERSION] !== CTX_VERSION) return 0;
  const len = readU32(buf, offset + CtxOff.LENGTH);
  if (len < CTX_MIN_DEPLOY_SIZE || len > CTX_MAX_SIZE || len > buf.length - offset) return 0;
  return len;
}

interface Parsed {
  code: number;
  tx?: ContractTx;
}

/** `build`: also decode the transaction (copies of its fields and its id); without it only the rules run. */
function parse(buf: Uint8Array, chainId: number | undefined, build = true): Parsed {
  if (buf.length < CTX_HEADER_SIZE) return { code: RejectCode.WRONG_SIZE };
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b[CtxOff.VERSION] !== CTX_VERSION) return { code: RejectCode.UNSUPPORTED_VERSION };
  const kind = b[CtxOff.KIND];
  if ((kind !== TX_KIND_DEPLOY && kind !== TX_KIND_CALL) || b[CtxOff.FLAGS] !== 0 || b[CtxOff.FLAGS + 1] !== 0) return { code: RejectCode.UNSUPPORTED_KIND };
  const length = readU32(b, CtxOff.LENGTH);
  if (length !== b.length || length > CTX_MAX_SIZE || length < (kind === TX_KIND_DEPLOY ? CTX_MIN_DEPLOY_SIZE : CTX_MIN_CALL_SIZE)) return { code: RejectCode.WRONG_SIZE };
  const txChain = readU32(b, CtxOff.CHAIN_ID);
  if (chainId !== undefined && txChain !== chainId) return { code: RejectCode.WRONG_CHAIN };
  const nonce = readU53(b, CtxOff.NONCE);
  if (nonce === 0) return { code: RejectCode.NONCE_TOO_LOW };
  if (nonce < 0) return { code: RejectCode.NONCE_TOO_FAR };
  const gasLimit = readU53(b, CtxOff.GAS_LIMIT);
  if (gasLimit <= 0 || gasLimit > MAX_TX_GAS) return { code: RejectCode.GAS_LIMIT_INVALID };
  const end = length - SIGNATURE_SIZE;
  // Every inner length must land exactly on the signature: no trailing or overlapping bytes.
  let o: number = CtxOff.PAYLOAD;
  const common = () => ({
    chainId: txChain,
    sender: Buffer.from(b.subarray(CtxOff.SENDER, CtxOff.SENDER + KEY_SIZE)),
    nonce,
    gasLimit,
    signature: Buffer.from(b.subarray(end, length)),
    length,
  });
  if (kind === TX_KIND_DEPLOY) {
    const codeLen = readU32(b, o);
    if (codeLen > MAX_CODE_SIZE) return { code: RejectCode.CODE_TOO_LARGE };
    if (o + 4 + codeLen + 4 > end) return { code: RejectCode.MALFORMED };
    const codeAt = o + 4;
    o += 4 + codeLen;
    const argsLen = readU32(b, o);
    if (o + 4 + argsLen !== end) return { code: RejectCode.MALFORMED };
    if (argsLen > MAX_ARGS_SIZE) return { code: RejectCode.ARGS_TOO_LARGE };
    if (!build) return { code: 0 };
    const code = Buffer.from(b.subarray(codeAt, codeAt + codeLen));
    const initArgs = Buffer.from(b.subarray(o + 4, end));
    return { code: 0, tx: { kind: 'deploy', ...common(), code, initArgs, id: contractTxId(b) } };
  }
  const contractAt = o;
  const amount = readU53(b, o + KEY_SIZE);
  if (amount < 0 || amount > MAX_AMOUNT) return { code: RejectCode.AMOUNT_TOO_LARGE };
  o += KEY_SIZE + 8;
  const methodLen = b[o]!;
  if (o + 1 + methodLen + 4 > end) return { code: RejectCode.MALFORMED };
  const method = b.toString('latin1', o + 1, o + 1 + methodLen);
  const methodCode = methodRejectCode(method);
  if (methodCode !== 0) return { code: methodCode };
  o += 1 + methodLen;
  const argsLen = readU32(b, o);
  if (o + 4 + argsLen !== end) return { code: RejectCode.MALFORMED };
  if (argsLen > MAX_ARGS_SIZE) return { code: RejectCode.ARGS_TOO_LARGE };
  if (!build) return { code: 0 };
  const contract = Buffer.from(b.subarray(contractAt, contractAt + KEY_SIZE));
  const args = Buffer.from(b.subarray(o + 4, end));
  return { code: 0, tx: { kind: 'call', ...common(), contract, amount, method, args, id: contractTxId(b) } };
}

/**
 * The rules a contract transaction must meet whatever the ledger state (the counterpart of
 * `staticRejectCode` + `nonceRejectCode` for transfers): version, kind, framing, chain, nonce
 * range, gas limit, sizes, method name. 0 when all hold. `buf` is exactly one transaction.
 */
export function contractStaticRejectCode(buf: Uint8Array, chainId: number): number {
  // Rules only: admission, peer intake and each block's gas pre-pass run it, and copies and an id hash per call were measurable there.
  return parse(buf, chainId, false).code;
}

/** Decodes one transaction (exactly `buf`), throwing ContractTxError with the RejectCode of the first rule broken. */
export function decodeContractTx(buf: Uint8Array, chainId?: number): ContractTx {
  const r = parse(buf, chainId);
  if (r.code !== 0 || !r.tx) throw new ContractTxError(r.code);
  return r.tx;
}

/** Signature check under the consensus rule (libsodium, strict), as for transfers. */
export function verifyContractTx(buf: Uint8Array): boolean {
  const len = readU32(buf, CtxOff.LENGTH);
  if (len !== buf.length || len < CTX_MIN_DEPLOY_SIZE) return false;
  return verifySignature(buf.subarray(len - SIGNATURE_SIZE, len), contractSigningMessage(buf), buf.subarray(CtxOff.SENDER, CtxOff.SENDER + KEY_SIZE));
}
