import { hash } from 'node:crypto';

/**
 * Contract state and receipts as LMDB stores them (issue 14; docs/decisions.md "Contracts:
 * storage layout"). Binary records are little-endian, u53 values as in the tx layout.
 */

/** The outcome of one included contract transaction, persisted per tx id and per height. */
export interface ContractReceipt {
  /** 0 or the call's RejectCode (OUT_OF_GAS, CONTRACT_TRAP, ...); the tx itself is committed. */
  status: number;
  gasUsed: number;
  /** feeFor(gasUsed), burned. */
  fee: number;
  events: { contract: Buffer; topic: Buffer; data: Buffer }[];
  output: Buffer;
  /** The deployed contract (deploys that succeeded). */
  address?: Buffer;
  message?: string;
}

/** A contract as the store reads it back. `codeSize` is the length of its (original) code. */
export interface StoredContract {
  codeHash: Buffer;
  deployer: Buffer;
  balance: number;
  codeSize: number;
}

/** codeHash 32 | deployer 32 | balance u64 | codeSize u32. */
export const CONTRACT_RECORD_SIZE = 76;

export function encodeContract(c: StoredContract): Buffer {
  const out = Buffer.alloc(CONTRACT_RECORD_SIZE);
  out.set(c.codeHash, 0);
  out.set(c.deployer, 32);
  out.writeUIntLE(c.balance % 2 ** 48, 64, 6);
  out.writeUInt16LE(Math.floor(c.balance / 2 ** 48), 70);
  out.writeUInt32LE(c.codeSize, 72);
  return out;
}

export function decodeContract(b: Uint8Array): StoredContract {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.length);
  return {
    codeHash: Buffer.from(buf.subarray(0, 32)),
    deployer: Buffer.from(buf.subarray(32, 64)),
    balance: buf.readUIntLE(64, 6) + buf.readUInt16LE(70) * 2 ** 48,
    codeSize: buf.readUInt32LE(72),
  };
}

/**
 * Storage keys longer than this are stored under their SHA-256: LMDB refuses keys above ~511
 * bytes, and a contract may use any key length its memory holds.
 */
export const INLINE_STORAGE_KEY = 256;

/** LMDB key of a storage entry: address ‖ 0x00 ‖ key, or address ‖ 0x01 ‖ SHA-256(key) for long keys. */
export function storageDbKey(address: Uint8Array, key: Uint8Array): Buffer {
  if (key.length <= INLINE_STORAGE_KEY) {
    const out = Buffer.allocUnsafe(33 + key.length);
    out.set(address.subarray(0, 32), 0);
    out[32] = 0;
    out.set(key, 33);
    return out;
  }
  const out = Buffer.allocUnsafe(65);
  out.set(address.subarray(0, 32), 0);
  out[32] = 1;
  hash('sha256', key, 'buffer').copy(out, 33);
  return out;
}

/** `block-receipts` key: height u32 BE ‖ index u32 BE, so a block's receipts are one range. */
export function receiptKey(height: number, index: number): Buffer {
  const k = Buffer.allocUnsafe(8);
  k.writeUInt32BE(height, 0);
  k.writeUInt32BE(index, 4);
  return k;
}

/** The msgpack form of a receipt in the `receipts` table (keyed by tx id). */
export interface StoredReceipt {
  h: number;
  i: number;
  s: number;
  g: number;
  f: number;
  e: [Uint8Array, Uint8Array, Uint8Array][];
  o: Uint8Array;
  a?: Uint8Array;
  m?: string;
}

export function receiptToStored(height: number, index: number, r: ContractReceipt): StoredReceipt {
  const s: StoredReceipt = { h: height, i: index, s: r.status, g: r.gasUsed, f: r.fee, e: r.events.map((e) => [e.contract, e.topic, e.data]), o: r.output };
  if (r.address) s.a = r.address;
  if (r.message !== undefined) s.m = r.message;
  return s;
}

const buf = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

export function receiptFromStored(s: StoredReceipt): ContractReceipt {
  const r: ContractReceipt = {
    status: s.s,
    gasUsed: s.g,
    fee: s.f,
    events: s.e.map(([contract, topic, data]) => ({ contract: buf(contract), topic: buf(topic), data: buf(data) })),
    output: buf(s.o),
  };
  if (s.a) r.address = buf(s.a);
  if (s.m !== undefined) r.message = s.m;
  return r;
}
