import { createHash } from 'node:crypto';
import { HotledgerError } from '../errors.js';

/**
 * A block header, fixed 176 bytes, little-endian. The hash covers every byte, so the state root
 * after this block and the one after its parent are both bound into the chain.
 *
 *   0  u8   version (1)          1  u8[3] reserved (0)     4  u32 height
 *   8  u64  timestamp (ms)       16 u32 txCount            20 u32 committed   24 u32 rejected
 *   28 u32  reserved (0)
 *   32 [32] parentHash           64 [32] parentStateRoot   96 [32] stateRoot
 *   128 [32] txRoot = SHA-256(concatenated tx ids, block order)
 *   160 [16] consensus: u64 round, u64 reserved (0 for the solo sequencer's blocks)
 */
export const HEADER_SIZE = 176;
const HASH_DOMAIN = Buffer.from('hotledger/block/v1\0', 'latin1');

export interface BlockHeader {
  height: number;
  timestamp: number;
  txCount: number;
  committed: number;
  rejected: number;
  parentHash: Buffer;
  parentStateRoot: Buffer;
  stateRoot: Buffer;
  txRoot: Buffer;
  round: number;
}

export function encodeHeader(h: BlockHeader): Buffer {
  const b = Buffer.alloc(HEADER_SIZE);
  b[0] = 1;
  b.writeUInt32LE(h.height, 4);
  b.writeUIntLE(h.timestamp, 8, 6);
  b.writeUInt32LE(h.txCount, 16);
  b.writeUInt32LE(h.committed, 20);
  b.writeUInt32LE(h.rejected, 24);
  h.parentHash.copy(b, 32);
  h.parentStateRoot.copy(b, 64);
  h.stateRoot.copy(b, 96);
  h.txRoot.copy(b, 128);
  b.writeUIntLE(h.round, 160, 6);
  return b;
}

export function decodeHeader(b: Uint8Array): BlockHeader {
  if (b.length !== HEADER_SIZE || b[0] !== 1) throw new HotledgerError('STORAGE_CORRUPT', `block header must be ${HEADER_SIZE} bytes, version 1`);
  const buf = Buffer.from(b.buffer, b.byteOffset, b.length);
  const slice = (o: number) => Buffer.from(buf.subarray(o, o + 32));
  return {
    height: buf.readUInt32LE(4),
    timestamp: buf.readUIntLE(8, 6),
    txCount: buf.readUInt32LE(16),
    committed: buf.readUInt32LE(20),
    rejected: buf.readUInt32LE(24),
    parentHash: slice(32),
    parentStateRoot: slice(64),
    stateRoot: slice(96),
    txRoot: slice(128),
    round: buf.readUIntLE(160, 6),
  };
}

export function headerHash(encoded: Uint8Array): Buffer {
  return createHash('sha256').update(HASH_DOMAIN).update(encoded).digest();
}

/** Root over the block's tx ids (32 bytes each, block order). Also the batch digest consensus orders. */
export function txRootOf(ids: Uint8Array): Buffer {
  return createHash('sha256').update(ids).digest();
}
