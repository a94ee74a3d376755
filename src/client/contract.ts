import { sha256 } from '@noble/hashes/sha2.js';
import { sign } from '../crypto/noble.js';
import { writeU32, writeU53 } from '../tx/bytes.js';
import { KEY_SIZE, MAX_AMOUNT, SIGNATURE_SIZE } from '../tx/layout.js';
import { bytesOf, hexOf } from './hex.js';
import type { SignedTransaction } from './transfer.js';

// The contract transaction (version 2) built in plain Uint8Array code for `hotledger/client`,
// which runs in browsers: the node's encoder (src/tx/contract-tx.ts) is Buffer and node:crypto
// code. Same layout, field for field (docs/transaction-format.md#contract-transactions);
// test/client/contract-encoding.test.ts checks both produce the same bytes and ids.

const VERSION = 2;
const KIND_DEPLOY = 2;
const KIND_CALL = 3;
const Off = { VERSION: 0, KIND: 1, LENGTH: 4, CHAIN_ID: 8, SENDER: 12, NONCE: 44, GAS_LIMIT: 52, PAYLOAD: 60 } as const;
const SIGNING_DOMAIN = new TextEncoder().encode('hotledger/tx/v2\0');
const ADDRESS_DOMAIN = new TextEncoder().encode('hotledger/contract/v1\0');
const METHOD = /^[\x20-\x7e]{0,255}$/;

interface ContractTxFields {
  chainId: number;
  from: { seed: Uint8Array; publicKey: Uint8Array };
  nonce: number;
  gasLimit: number;
}

export interface DeployFields extends ContractTxFields {
  /** The WebAssembly module (the node validates and instruments it at deploy). */
  code: Uint8Array;
  /** Bytes the contract's `init` reads with `input()`. */
  initArgs?: Uint8Array | string;
}

export interface CallFields extends ContractTxFields {
  contract: Uint8Array | string;
  method: string;
  /** Bytes the method reads with `input()`; hex or bytes. */
  args?: Uint8Array | string;
  /** Native amount moved from the sender to the contract's balance with the call. */
  amount?: number | bigint;
}

/** A signed deploy: also the address the contract will have (it depends on sender and nonce only). */
export interface SignedDeploy extends SignedTransaction {
  readonly address: string;
}

function argBytes(v: Uint8Array | string | undefined, what: string): Uint8Array {
  if (v === undefined) return new Uint8Array(0);
  if (typeof v !== 'string') return v;
  if (v.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(v)) throw new TypeError(`${what} must be hex (an even number of hex digits)`);
  const out = new Uint8Array(v.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(v.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function checkCommon(f: ContractTxFields): void {
  if (f.from.publicKey.length !== KEY_SIZE) throw new TypeError('sender public key must be 32 bytes');
  if (!Number.isInteger(f.chainId) || f.chainId < 0 || f.chainId > 0xffffffff) throw new RangeError('chain id must be a u32');
  if (!Number.isSafeInteger(f.nonce) || f.nonce < 0) throw new RangeError('nonce out of range');
  if (!Number.isSafeInteger(f.gasLimit) || f.gasLimit < 0) throw new RangeError('gas limit out of range');
}

function header(kind: number, size: number, f: ContractTxFields): Uint8Array {
  const out = new Uint8Array(size);
  out[Off.VERSION] = VERSION;
  out[Off.KIND] = kind;
  writeU32(out, Off.LENGTH, size);
  writeU32(out, Off.CHAIN_ID, f.chainId);
  out.set(f.from.publicKey, Off.SENDER);
  writeU53(out, Off.NONCE, f.nonce);
  writeU53(out, Off.GAS_LIMIT, f.gasLimit);
  return out;
}

/** Signs the body under the v2 domain tag and returns the signed transaction with its id. */
function finish(out: Uint8Array, f: ContractTxFields): SignedTransaction {
  const body = out.subarray(0, out.length - SIGNATURE_SIZE);
  const msg = new Uint8Array(SIGNING_DOMAIN.length + body.length);
  msg.set(SIGNING_DOMAIN, 0);
  msg.set(body, SIGNING_DOMAIN.length);
  out.set(sign(msg, f.from.seed), out.length - SIGNATURE_SIZE);
  return { bytes: out, id: hexOf(sha256(body)), sender: hexOf(f.from.publicKey), nonce: f.nonce };
}

/**
 * Builds and signs a deploy. Like the node's encoder it refuses only what cannot be encoded;
 * what the node's rules refuse (gas limit 0, oversize code) is encoded, and the node answers it
 * with its RejectCode.
 */
export function signDeployTx(f: DeployFields): SignedDeploy {
  checkCommon(f);
  const init = argBytes(f.initArgs, 'initArgs');
  const size = Off.PAYLOAD + 4 + f.code.length + 4 + init.length + SIGNATURE_SIZE;
  const out = header(KIND_DEPLOY, size, f);
  let o: number = Off.PAYLOAD;
  writeU32(out, o, f.code.length);
  out.set(f.code, o + 4);
  o += 4 + f.code.length;
  writeU32(out, o, init.length);
  out.set(init, o + 4);
  return { ...finish(out, f), address: contractAddressOf(f.from.publicKey, f.nonce) };
}

export function signCallTx(f: CallFields): SignedTransaction {
  checkCommon(f);
  const contract = bytesOf(f.contract, 'contract address', KEY_SIZE);
  if (!METHOD.test(f.method)) throw new TypeError('method must be printable ASCII of at most 255 characters');
  const amount = typeof f.amount === 'bigint' ? Number(f.amount) : (f.amount ?? 0);
  if (!Number.isSafeInteger(amount) || amount < 0 || amount > MAX_AMOUNT || (typeof f.amount === 'bigint' && BigInt(amount) !== f.amount))
    throw new RangeError('amount out of range');
  const args = argBytes(f.args, 'args');
  const size = Off.PAYLOAD + KEY_SIZE + 8 + 1 + f.method.length + 4 + args.length + SIGNATURE_SIZE;
  const out = header(KIND_CALL, size, f);
  let o: number = Off.PAYLOAD;
  out.set(contract, o);
  writeU53(out, o + KEY_SIZE, amount);
  o += KEY_SIZE + 8;
  out[o] = f.method.length;
  for (let i = 0; i < f.method.length; i++) out[o + 1 + i] = f.method.charCodeAt(i);
  o += 1 + f.method.length;
  writeU32(out, o, args.length);
  out.set(args, o + 4);
  return finish(out, f);
}

/** Contract address = SHA-256(domain ‖ deployer ‖ u64 LE nonce of the deploy), as the node derives it. */
export function contractAddressOf(deployer: Uint8Array | string, nonce: number): string {
  const pk = bytesOf(deployer, 'deployer', KEY_SIZE);
  const msg = new Uint8Array(ADDRESS_DOMAIN.length + KEY_SIZE + 8);
  msg.set(ADDRESS_DOMAIN, 0);
  msg.set(pk, ADDRESS_DOMAIN.length);
  writeU53(msg, ADDRESS_DOMAIN.length + KEY_SIZE, nonce);
  return hexOf(sha256(msg));
}

/** Little-endian u64 bytes, hex: the argument encoding of the example contracts (contracts/token.ts). */
export function u64Arg(value: number | bigint): string {
  const v = BigInt(value);
  if (v < 0n || v >= 1n << 64n) throw new RangeError('u64 argument out of range');
  const out = new Uint8Array(8);
  for (let i = 0; i < 8; i++) out[i] = Number((v >> BigInt(i * 8)) & 0xffn);
  return hexOf(out);
}
