/** Fixed binary records stored in LMDB. Little-endian; u53 values as in the tx layout. */

/**
 * Account record: balance u64, nonce u64, then the account's state-root leaf (8 × u32 LE), kept
 * so that loading an account never re-hashes it. An all-zero leaf means "not stored": the reader
 * computes it.
 */
export const ACCOUNT_RECORD_SIZE = 48;

export function encodeAccount(balance: number, nonce: number, leaf?: Uint32Array | null, out: Buffer = Buffer.alloc(ACCOUNT_RECORD_SIZE)): Buffer {
  out.writeUIntLE(balance % 2 ** 48, 0, 6);
  out.writeUInt16LE(Math.floor(balance / 2 ** 48), 6);
  out.writeUIntLE(nonce % 2 ** 48, 8, 6);
  out.writeUInt16LE(Math.floor(nonce / 2 ** 48), 14);
  if (leaf) for (let i = 0; i < 8; i++) out.writeUInt32LE(leaf[i]!, 16 + i * 4);
  return out;
}

export interface AccountRecord {
  balance: number;
  nonce: number;
  leaf: Uint32Array | undefined;
}

export function decodeAccount(b: Uint8Array): AccountRecord {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.length);
  const leaf = new Uint32Array(8);
  let any = 0;
  for (let i = 0; i < 8; i++) any |= leaf[i] = buf.readUInt32LE(16 + i * 4);
  return {
    balance: buf.readUIntLE(0, 6) + buf.readUInt16LE(6) * 2 ** 48,
    nonce: buf.readUIntLE(8, 6) + buf.readUInt16LE(14) * 2 ** 48,
    leaf: any === 0 ? undefined : leaf,
  };
}

/** Where a transaction id owns its outcome: block height, position in it, status (0 = committed, else RejectCode). */
export interface TxLocation {
  height: number;
  position: number;
  status: number;
}

/**
 * lmdb's native writer crashes the process (SIGSEGV, "invalid address 0") on values backed by a
 * SharedArrayBuffer: such bytes are copied into a plain buffer first.
 */
export function plain(u: Uint8Array): Buffer {
  return u.buffer instanceof SharedArrayBuffer ? Buffer.from(u) : Buffer.from(u.buffer, u.byteOffset, u.length);
}
