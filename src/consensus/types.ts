import { createHash } from 'node:crypto';

/** A 32-byte digest (block hash, batch digest, state root). */
export type Hash = Uint8Array;

export const HASH_SIZE = 32;

/**
 * Domain tags: every signed or hashed consensus object starts with one, so a vote signature can
 * never be replayed as a tx signature (tx uses 'hotledger/tx/v1\0') or as another message kind.
 */
export const TAG_BLOCK = Buffer.from('hotledger/block/v1\0', 'latin1');
export const TAG_VOTE = Buffer.from('hotledger/vote/v1\0', 'latin1');
export const TAG_TIMEOUT = Buffer.from('hotledger/timeout/v1\0', 'latin1');
export const TAG_PROPOSAL = Buffer.from('hotledger/proposal/v1\0', 'latin1');

export interface Signature {
  signer: number;
  sig: Uint8Array;
}

/** 2f+1 votes for (round, blockHash). The genesis QC is the only one with no signatures. */
export interface QuorumCert {
  round: number;
  blockHash: Hash;
  signatures: Signature[];
}

export interface TimeoutSignature extends Signature {
  highQcRound: number;
}

/**
 * 2f+1 timeouts for one round; each signer states the round of its highest QC, and the TC carries
 * the highest of those QCs itself, so whoever holds the TC can extend that QC (a leader that only
 * knew the rounds could be unable to make a proposal anyone would vote for).
 */
export interface TimeoutCert {
  round: number;
  timeouts: TimeoutSignature[];
  highQc: QuorumCert;
}

export interface Block {
  chainId: number;
  round: number;
  height: number;
  parentHash: Hash;
  /** Certifies the parent: qc.blockHash === parentHash. Its signatures are not hashed. */
  qc: QuorumCert;
  /** Batch digests; the batches themselves travel out-of-band. */
  payload: Hash[];
  proposer: number;
  /** Opaque to consensus: the node fills the state root after executing the parent. */
  parentStateRoot: Hash;
  timestampMs: number;
  /** Derived (blockHash(header)); receivers recompute it and never trust the sender's. */
  hash: Hash;
}

export interface Vote {
  round: number;
  blockHash: Hash;
  signer: number;
  sig: Uint8Array;
}

export interface Timeout {
  round: number;
  highQc: QuorumCert;
  signer: number;
  sig: Uint8Array;
}

export interface Proposal {
  block: Block;
  /** Present iff the block's round follows a TC rather than its parent's QC. */
  tc: TimeoutCert | null;
  /** Proposer's signature over proposalSigningBytes(block.hash). */
  sig: Uint8Array;
}

export type ConsensusMessage =
  | { type: 'proposal'; proposal: Proposal }
  | { type: 'vote'; vote: Vote }
  | { type: 'timeout'; timeout: Timeout; highTc: TimeoutCert | null }
  | { type: 'sync-info'; highQc: QuorumCert; highTc: TimeoutCert | null }
  | { type: 'blocks-request'; hash: Hash; count: number }
  /** Newest first; blocks[i + 1] is the parent of blocks[i]. */
  | { type: 'blocks-response'; blocks: Block[] }
  /** Committed blocks at heights fromHeight, fromHeight + 1, … (forward sync of a lagging node). */
  | { type: 'sync-request'; fromHeight: number; count: number }
  /** Oldest first; blocks[i] is the parent of blocks[i + 1]. Empty: the responder has none. */
  | { type: 'sync-response'; blocks: Block[] };

/** A committed block and the QC that certifies it (its child's `qc`). */
export interface CommittedBlock {
  block: Block;
  qc: QuorumCert;
}

export const ZERO_HASH: Hash = new Uint8Array(HASH_SIZE);

// Hashes are map keys everywhere and the same digest object is hex-encoded many times.
// Callers never mutate a hash after creating it, so caching by identity is sound.
const hexCache = new WeakMap<Uint8Array, string>();

export function hex(h: Uint8Array): string {
  let s = hexCache.get(h);
  if (s === undefined) {
    s = Buffer.from(h.buffer, h.byteOffset, h.length).toString('hex');
    hexCache.set(h, s);
  }
  return s;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function u64(buf: Buffer, value: number, offset: number): number {
  // Rounds, heights and timestamps stay below 2^53: split into two big-endian u32.
  buf.writeUInt32BE(Math.floor(value / 0x1_0000_0000), offset);
  buf.writeUInt32BE(value >>> 0, offset + 4);
  return offset + 8;
}

function put(buf: Buffer, src: Uint8Array, offset: number): number {
  buf.set(src, offset);
  return offset + src.length;
}

export type BlockHeader = Omit<Block, 'hash'>;

/**
 * Canonical header bytes, byte offsets after the 19-byte tag:
 * chainId u32 | round u64 | height u64 | parentHash 32 | qc.round u64 | qc.blockHash 32 |
 * proposer u32 | parentStateRoot 32 | timestampMs u64 | payload count u32 | digests 32 × count.
 * QC signatures are excluded: any valid QC for the same (round, block) certifies the same thing.
 */
export function headerBytes(b: BlockHeader): Buffer {
  const size = TAG_BLOCK.length + 4 + 8 + 8 + 32 + 8 + 32 + 4 + 32 + 8 + 4 + 32 * b.payload.length;
  const buf = Buffer.alloc(size);
  let o = put(buf, TAG_BLOCK, 0);
  o = buf.writeUInt32BE(b.chainId >>> 0, o);
  o = u64(buf, b.round, o);
  o = u64(buf, b.height, o);
  o = put(buf, b.parentHash, o);
  o = u64(buf, b.qc.round, o);
  o = put(buf, b.qc.blockHash, o);
  o = buf.writeUInt32BE(b.proposer >>> 0, o);
  o = put(buf, b.parentStateRoot, o);
  o = u64(buf, b.timestampMs, o);
  o = buf.writeUInt32BE(b.payload.length, o);
  for (const d of b.payload) o = put(buf, d, o);
  return buf;
}

export function computeBlockHash(b: BlockHeader): Hash {
  return new Uint8Array(createHash('sha256').update(headerBytes(b)).digest());
}

export function makeBlock(h: BlockHeader): Block {
  return { ...h, hash: computeBlockHash(h) };
}

export function genesisBlock(chainId: number): Block {
  return makeBlock({
    chainId,
    round: 0,
    height: 0,
    parentHash: ZERO_HASH,
    qc: { round: 0, blockHash: ZERO_HASH, signatures: [] },
    payload: [],
    proposer: 0,
    parentStateRoot: ZERO_HASH,
    timestampMs: 0,
  });
}

/** The QC every node accepts for genesis without signatures. */
export function genesisQc(chainId: number): QuorumCert {
  return { round: 0, blockHash: genesisBlock(chainId).hash, signatures: [] };
}

export function voteSigningBytes(chainId: number, round: number, blockHash: Hash): Buffer {
  const buf = Buffer.alloc(TAG_VOTE.length + 4 + 8 + 32);
  let o = put(buf, TAG_VOTE, 0);
  o = buf.writeUInt32BE(chainId >>> 0, o);
  o = u64(buf, round, o);
  put(buf, blockHash, o);
  return buf;
}

export function timeoutSigningBytes(chainId: number, round: number, highQcRound: number): Buffer {
  const buf = Buffer.alloc(TAG_TIMEOUT.length + 4 + 8 + 8);
  let o = put(buf, TAG_TIMEOUT, 0);
  o = buf.writeUInt32BE(chainId >>> 0, o);
  o = u64(buf, round, o);
  u64(buf, highQcRound, o);
  return buf;
}

export function proposalSigningBytes(chainId: number, blockHash: Hash): Buffer {
  const buf = Buffer.alloc(TAG_PROPOSAL.length + 4 + 32);
  const o = buf.writeUInt32BE(chainId >>> 0, put(buf, TAG_PROPOSAL, 0));
  put(buf, blockHash, o);
  return buf;
}

/** Largest quorum-intersection-safe f, and the quorum 2f+1 generalised to any n. */
export function faultTolerance(n: number): { f: number; quorum: number } {
  return { f: Math.floor((n - 1) / 3), quorum: Math.floor((2 * n) / 3) + 1 };
}
