import { hash } from 'node:crypto';

/**
 * State root: a multiset hash of all accounts, root = Σ leaf(account) mod 2^256, where
 * leaf = SHA-256(domain || publicKey || balance u64 || nonce u64). Adding or replacing an account
 * costs two leaf hashes, so a block updates the root in O(touched accounts), and the sum commutes,
 * so the root is the same whatever order (or shard split) the updates come in.
 *
 * It detects divergence between honest nodes; it is not a proof-grade commitment (no inclusion
 * proofs, and additive multiset hashes are weaker than Merkle trees against a chosen-account
 * adversary). docs/decisions.md records the trade-off.
 */
const LEAF_DOMAIN = Buffer.from('hotledger/account/v1\0', 'latin1');

export const ZERO_ROOT = (): Uint32Array => new Uint32Array(8);

/** domain || key || balance || nonce, assembled in one reused buffer and hashed in one call. */
const scratch = Buffer.alloc(LEAF_DOMAIN.length + 32 + 16);
LEAF_DOMAIN.copy(scratch, 0);
const KEY_AT = LEAF_DOMAIN.length;
const REC_AT = KEY_AT + 32;

export function accountLeaf(publicKey: Uint8Array, balance: number, nonce: number): Uint32Array {
  scratch.set(publicKey.subarray(0, 32), KEY_AT);
  scratch.writeUIntLE(balance % 2 ** 48, REC_AT, 6);
  scratch.writeUInt16LE(Math.floor(balance / 2 ** 48), REC_AT + 6);
  scratch.writeUIntLE(nonce % 2 ** 48, REC_AT + 8, 6);
  scratch.writeUInt16LE(Math.floor(nonce / 2 ** 48), REC_AT + 14);
  const d = hash('sha256', scratch, 'buffer');
  const out = new Uint32Array(8);
  for (let i = 0; i < 8; i++) out[i] = d.readUInt32LE(i * 4);
  return out;
}

/** acc += x (mod 2^256), little-endian 32-bit lanes. */
export function addInto(acc: Uint32Array, x: Uint32Array): void {
  let carry = 0;
  for (let i = 0; i < 8; i++) {
    const s = acc[i]! + x[i]! + carry;
    acc[i] = s >>> 0;
    carry = s > 0xffffffff ? 1 : 0;
  }
}

/** acc -= x (mod 2^256). */
export function subInto(acc: Uint32Array, x: Uint32Array): void {
  let borrow = 0;
  for (let i = 0; i < 8; i++) {
    const s = acc[i]! - x[i]! - borrow;
    acc[i] = s >>> 0;
    borrow = s < 0 ? 1 : 0;
  }
}

export function rootToBuffer(root: Uint32Array): Buffer {
  const b = Buffer.allocUnsafe(32);
  for (let i = 0; i < 8; i++) b.writeUInt32LE(root[i]!, i * 4);
  return b;
}

export function rootFromBuffer(b: Uint8Array): Uint32Array {
  const buf = Buffer.from(b.buffer, b.byteOffset, 32);
  const out = new Uint32Array(8);
  for (let i = 0; i < 8; i++) out[i] = buf.readUInt32LE(i * 4);
  return out;
}

/**
 * Contract-state leaves (issue 14), each under its own domain tag so no contract leaf can equal
 * an account leaf or another kind's: code (by hash; the hash is of the code), contract records
 * (code hash, deployer, balance) and storage entries (contract, key, value).
 */
const CODE_DOMAIN = Buffer.from('hotledger/code/v1\0', 'latin1');
const CONTRACT_DOMAIN = Buffer.from('hotledger/contract-record/v1\0', 'latin1');
const STORAGE_DOMAIN = Buffer.from('hotledger/storage/v1\0', 'latin1');

function leafOf(parts: Uint8Array[]): Uint32Array {
  const d = hash('sha256', Buffer.concat(parts), 'buffer');
  const out = new Uint32Array(8);
  for (let i = 0; i < 8; i++) out[i] = d.readUInt32LE(i * 4);
  return out;
}

function u64(n: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUIntLE(n % 2 ** 48, 0, 6);
  b.writeUInt16LE(Math.floor(n / 2 ** 48), 6);
  return b;
}

export function codeLeaf(codeHash: Uint8Array): Uint32Array {
  return leafOf([CODE_DOMAIN, codeHash]);
}

export function contractLeaf(address: Uint8Array, codeHash: Uint8Array, deployer: Uint8Array, balance: number): Uint32Array {
  return leafOf([CONTRACT_DOMAIN, address, codeHash, deployer, u64(balance)]);
}

/** The key's length is hashed too, so (key, value) boundaries cannot be shifted. */
export function storageLeaf(address: Uint8Array, key: Uint8Array, value: Uint8Array): Uint32Array {
  const kl = Buffer.alloc(4);
  kl.writeUInt32LE(key.length, 0);
  return leafOf([STORAGE_DOMAIN, address, kl, key, value]);
}
