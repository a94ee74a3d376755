import { Packr } from 'msgpackr';
import { HotledgerError } from '../errors.js';
import type { SafetyData } from './safety-rules.js';
import { SYNC_BATCH } from './synchronizer.js';
import { checkShape, type ShapeLimits } from './wire-guard.js';
import { HASH_SIZE, makeBlock, type Block, type ConsensusMessage, type QuorumCert, type Signature, type TimeoutCert, type TimeoutSignature } from './types.js';

/**
 * Wire format: msgpack maps (no shared record structures, so any two builds interoperate).
 * Blocks travel without their hash: the receiver recomputes it from the header, so a peer can
 * never make us believe a hash that does not match the content. Decoding first bounds the raw
 * bytes (size, nesting, counts, lengths; see wire-guard.ts), then validates every field against
 * the schema and its counts, and throws CONSENSUS_INVALID on anything malformed; it does not
 * check signatures.
 */
const packr = new Packr({ useRecords: false, moreTypes: false, bundleStrings: false });

/** Largest validator set the wire format admits (config validates the real set separately). */
export const MAX_VALIDATORS = 1024;
const MAX_PAYLOAD = 4096;
/** Blocks per blocks-request / blocks-response; the core asks for SYNC_BATCH. */
const MAX_BLOCKS = 64;
/** Bound of a forward-sync chunk on the wire; above what a node asks for (SYNC_CHUNK) on purpose. */
export const MAX_SYNC_BLOCKS = 128;

/**
 * What a receiver knows that bounds a message: signers per certificate cannot exceed the
 * validator count, digests per block cannot exceed what any honest proposer puts in one.
 */
export interface WireLimits {
  validators: number;
  maxPayloadDigests: number;
}

/** The loosest limits; a node should pass its own with `wireLimits(n, maxPayloadDigests)`. */
export const DEFAULT_WIRE_LIMITS: WireLimits = { validators: MAX_VALIDATORS, maxPayloadDigests: MAX_PAYLOAD };

export function wireLimits(validators: number, maxPayloadDigests = 64): WireLimits {
  if (!Number.isInteger(validators) || validators < 1 || validators > MAX_VALIDATORS) throw new RangeError(`validators must be 1..${MAX_VALIDATORS}`);
  if (!Number.isInteger(maxPayloadDigests) || maxPayloadDigests < 0 || maxPayloadDigests > MAX_PAYLOAD) throw new RangeError(`maxPayloadDigests must be 0..${MAX_PAYLOAD}`);
  return { validators, maxPayloadDigests };
}

// msgpack sizes, rounded up: a map entry's key is at most 1 + 16 bytes, a signature entry is a
// small map of signer, highQcRound and a 64-byte bin, an integer at most 9 bytes.
const KEY = 17;
const INT = 9;
const SIG_ENTRY = 8 + 3 * KEY + 2 * INT + 66;
const HASH_FIELD = KEY + 34;

function qcBytes(l: WireLimits): number {
  return 8 + KEY + INT + HASH_FIELD + KEY + 5 + l.validators * SIG_ENTRY;
}

function blockBytes(l: WireLimits): number {
  return 8 + 9 * KEY + 5 * INT + 2 * HASH_FIELD + qcBytes(l) + 5 + l.maxPayloadDigests * 34;
}

function tcBytes(l: WireLimits): number {
  return 8 + 3 * KEY + INT + 5 + l.validators * SIG_ENTRY + qcBytes(l);
}

/** The largest valid message under `l` (a full sync-response), plus slack: the byte cap. */
export function maxMessageBytes(l: WireLimits): number {
  const proposal = 64 + blockBytes(l) + tcBytes(l) + 66;
  const timeout = 64 + 3 * INT + 66 + qcBytes(l) + tcBytes(l);
  return 256 + Math.max(MAX_SYNC_BLOCKS * blockBytes(l), proposal, timeout);
}

const shapeCache = new WeakMap<WireLimits, ShapeLimits>();

function shapeOf(l: WireLimits): ShapeLimits {
  let s = shapeCache.get(l);
  if (s === undefined) {
    // message > proposal > block > qc > signatures > signature: six levels; two spare.
    s = { maxBytes: maxMessageBytes(l), maxDepth: 8, maxArray: Math.max(l.validators, l.maxPayloadDigests, MAX_SYNC_BLOCKS), maxMapKeys: 16, maxBin: 64, maxStr: 32 };
    shapeCache.set(l, s);
  }
  return s;
}

export function encodeMessage(msg: ConsensusMessage): Uint8Array {
  if (msg.type === 'proposal') return packr.pack({ ...msg, proposal: { ...msg.proposal, block: strip(msg.proposal.block) } });
  if (msg.type === 'blocks-response' || msg.type === 'sync-response') return packr.pack({ ...msg, blocks: msg.blocks.map(strip) });
  return packr.pack(msg);
}

function strip(b: Block): Omit<Block, 'hash'> {
  const { hash: _hash, ...rest } = b;
  return rest;
}

/**
 * `limits`: the receiver's validator count and payload bound. The default admits any validator
 * set the format allows; a node passes its own (`wireLimits(n, maxPayloadDigests)`) so a
 * certificate can never claim more signers than there are validators.
 */
export function decodeMessage(bytes: Uint8Array, limits: WireLimits = DEFAULT_WIRE_LIMITS): ConsensusMessage {
  const l = limits;
  const m = obj(unpack(bytes, l), 'message');
  switch (m.type) {
    case 'proposal': {
      const p = obj(m.proposal, 'proposal');
      return { type: 'proposal', proposal: { block: block(p.block, l), tc: p.tc === null ? null : tc(p.tc, l), sig: bytes64(p.sig) } };
    }
    case 'vote': {
      const v = obj(m.vote, 'vote');
      return { type: 'vote', vote: { round: uint(v.round), blockHash: hash(v.blockHash), signer: index(v.signer, l), sig: bytes64(v.sig) } };
    }
    case 'timeout': {
      const t = obj(m.timeout, 'timeout');
      return {
        type: 'timeout',
        timeout: { round: uint(t.round), highQc: qc(t.highQc, l), signer: index(t.signer, l), sig: bytes64(t.sig) },
        highTc: m.highTc === null ? null : tc(m.highTc, l),
      };
    }
    case 'sync-info':
      return { type: 'sync-info', highQc: qc(m.highQc, l), highTc: m.highTc === null ? null : tc(m.highTc, l) };
    case 'blocks-request': {
      const count = uint(m.count);
      if (count === 0 || count > MAX_BLOCKS) return fail('bad blocks-request count');
      return { type: 'blocks-request', hash: hash(m.hash), count };
    }
    case 'blocks-response':
      return { type: 'blocks-response', blocks: list(m.blocks, Math.max(SYNC_BATCH, MAX_BLOCKS)).map((b) => block(b, l)) };
    case 'sync-request': {
      const count = uint(m.count);
      if (count === 0 || count > MAX_SYNC_BLOCKS) return fail('bad sync-request count');
      return { type: 'sync-request', fromHeight: uint(m.fromHeight), count };
    }
    case 'sync-response':
      return { type: 'sync-response', blocks: list(m.blocks, MAX_SYNC_BLOCKS).map((b) => block(b, l)) };
    default:
      return fail('unknown message type');
  }
}

/**
 * Storage helpers for what the environment persists (SafetyData, the highest TC, consensus
 * blocks). Same format and validation as the wire, so a corrupt record fails loudly at restart.
 */
export function encodeSafetyData(d: SafetyData): Uint8Array {
  return packr.pack(d);
}

export function decodeSafetyData(bytes: Uint8Array): SafetyData {
  const d = obj(unpack(bytes, DEFAULT_WIRE_LIMITS), 'safety data');
  if (d.version !== 1) return fail('unsupported safety data version');
  return { version: 1, lastVotedRound: uint(d.lastVotedRound), highQc: qc(d.highQc, DEFAULT_WIRE_LIMITS) };
}

export function encodeBlock(b: Block): Uint8Array {
  return packr.pack(strip(b));
}

export function decodeBlock(bytes: Uint8Array, limits: WireLimits = DEFAULT_WIRE_LIMITS): Block {
  return block(unpack(bytes, limits), limits);
}

/** A committed block with the QC that certifies it (what a node restarts its block tree from). */
export function encodeCommittedBlock(c: { block: Block; qc: QuorumCert }): Uint8Array {
  return packr.pack({ block: strip(c.block), qc: c.qc });
}

export function decodeCommittedBlock(bytes: Uint8Array, limits: WireLimits = DEFAULT_WIRE_LIMITS): { block: Block; qc: QuorumCert } {
  const c = obj(unpack(bytes, limits), 'committed block');
  return { block: block(c.block, limits), qc: qc(c.qc, limits) };
}

export function encodeTimeoutCert(t: TimeoutCert): Uint8Array {
  return packr.pack(t);
}

export function decodeTimeoutCert(bytes: Uint8Array, limits: WireLimits = DEFAULT_WIRE_LIMITS): TimeoutCert {
  return tc(unpack(bytes, limits), limits);
}

function unpack(bytes: Uint8Array, l: WireLimits): unknown {
  if (!(bytes instanceof Uint8Array)) return fail('not bytes');
  checkShape(bytes, shapeOf(l));
  try {
    return packr.unpack(bytes);
  } catch {
    return fail('not msgpack');
  }
}

function block(x: unknown, l: WireLimits): Block {
  const b = obj(x, 'block');
  return makeBlock({
    chainId: u32(b.chainId),
    round: uint(b.round),
    height: uint(b.height),
    parentHash: hash(b.parentHash),
    qc: qc(b.qc, l),
    payload: list(b.payload, l.maxPayloadDigests).map(hash),
    proposer: index(b.proposer, l),
    parentStateRoot: hash(b.parentStateRoot),
    timestampMs: uint(b.timestampMs),
  });
}

function qc(x: unknown, l: WireLimits): QuorumCert {
  const q = obj(x, 'qc');
  const signatures = list(q.signatures, l.validators).map((y) => sig(y, l));
  distinct(signatures);
  return { round: uint(q.round), blockHash: hash(q.blockHash), signatures };
}

function tc(x: unknown, l: WireLimits): TimeoutCert {
  const t = obj(x, 'tc');
  const timeouts = list(t.timeouts, l.validators).map((y): TimeoutSignature => {
    const s = obj(y, 'timeout signature');
    return { signer: index(s.signer, l), highQcRound: uint(s.highQcRound), sig: bytes64(s.sig) };
  });
  distinct(timeouts);
  return { round: uint(t.round), timeouts, highQc: qc(t.highQc, l) };
}

function sig(x: unknown, l: WireLimits): Signature {
  const s = obj(x, 'signature');
  return { signer: index(s.signer, l), sig: bytes64(s.sig) };
}

/** A certificate counts each validator once; a repeated signer is junk, not a weaker certificate. */
function distinct(sigs: { signer: number }[]): void {
  const seen = new Set<number>();
  for (const s of sigs) {
    if (seen.has(s.signer)) fail('repeated signer');
    seen.add(s.signer);
  }
}

function index(x: unknown, l: WireLimits): number {
  const i = uint(x);
  if (i >= l.validators) return fail('validator index out of range');
  return i;
}

function u32(x: unknown): number {
  const v = uint(x);
  if (v > 0xffff_ffff) return fail('bad u32');
  return v;
}

function obj(x: unknown, what: string): Record<string, unknown> {
  if (typeof x !== 'object' || x === null || Array.isArray(x) || x instanceof Uint8Array) return fail(`${what} is not a map`);
  return x as Record<string, unknown>;
}

function list(x: unknown, max: number): unknown[] {
  if (!Array.isArray(x) || x.length > max) return fail('bad list');
  return x;
}

function uint(x: unknown): number {
  if (typeof x !== 'number' || !Number.isSafeInteger(x) || x < 0) return fail('bad integer');
  return x;
}

function bin(x: unknown, len: number): Uint8Array {
  if (!(x instanceof Uint8Array) || x.length !== len) return fail(`expected ${len} bytes`);
  return Uint8Array.from(x);
}

function hash(x: unknown): Uint8Array {
  return bin(x, HASH_SIZE);
}

function bytes64(x: unknown): Uint8Array {
  return bin(x, 64);
}

function fail(reason: string): never {
  throw new HotledgerError('CONSENSUS_INVALID', `malformed consensus message: ${reason}`);
}
