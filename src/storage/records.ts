/** Fixed binary records stored in LMDB. Little-endian; u53 values as in the tx layout. */

export const ACCOUNT_RECORD_SIZE = 16;

export function encodeAccount(balance: number, nonce: number, out: Buffer = Buffer.allocUnsafe(ACCOUNT_RECORD_SIZE)): Buffer {
  out.writeUIntLE(balance % 2 ** 48, 0, 6);
  out.writeUInt16LE(Math.floor(balance / 2 ** 48), 6);
  out.writeUIntLE(nonce % 2 ** 48, 8, 6);
  out.writeUInt16LE(Math.floor(nonce / 2 ** 48), 14);
  return out;
}

export function decodeAccount(b: Uint8Array): { balance: number; nonce: number } {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.length);
  return {
    balance: buf.readUIntLE(0, 6) + buf.readUInt16LE(6) * 2 ** 48,
    nonce: buf.readUIntLE(8, 6) + buf.readUInt16LE(14) * 2 ** 48,
  };
}

/** Tx index value: height u32, position u32, status u8 (0 = committed, else RejectCode). */
export const TX_LOCATION_SIZE = 9;

export function encodeTxLocation(height: number, position: number, status: number, out: Buffer = Buffer.allocUnsafe(TX_LOCATION_SIZE)): Buffer {
  out.writeUInt32LE(height, 0);
  out.writeUInt32LE(position, 4);
  out[8] = status;
  return out;
}

export interface TxLocation {
  height: number;
  position: number;
  status: number;
}

export function decodeTxLocation(b: Uint8Array): TxLocation {
  const buf = Buffer.from(b.buffer, b.byteOffset, b.length);
  return { height: buf.readUInt32LE(0), position: buf.readUInt32LE(4), status: buf[8]! };
}
