import { Packr } from 'msgpackr';
import { HotledgerError } from '../errors.js';
import type { SafetyData } from './safety-rules.js';
import {
  HASH_SIZE,
  makeBlock,
  type Block,
  type ConsensusMessage,
  type QuorumCert,
  type Signature,
  type TimeoutCert,
  type TimeoutSignature,
} from './types.js';

/**
 * Wire format: msgpack maps (no shared record structures, so any two builds interoperate).
 * Blocks travel without their hash: the receiver recomputes it from the header, so a peer can
 * never make us believe a hash that does not match the content. Decoding validates every field
 * and throws CONSENSUS_INVALID on anything malformed; it does not check signatures.
 */
const packr = new Packr({ useRecords: false, moreTypes: false, bundleStrings: false });

const MAX_SIGS = 1024;
const MAX_PAYLOAD = 4096;
const MAX_BLOCKS = 64;
/** Bound of a forward-sync chunk on the wire; above what a node asks for (SYNC_CHUNK) on purpose. */
export const MAX_SYNC_BLOCKS = 128;

export function encodeMessage(msg: ConsensusMessage): Uint8Array {
  if (msg.type === 'proposal') return packr.pack({ ...msg, proposal: { ...msg.proposal, block: strip(msg.proposal.block) } });
  if (msg.type === 'blocks-response' || msg.type === 'sync-response') return packr.pack({ ...msg, blocks: msg.blocks.map(strip) });
  return packr.pack(msg);
}

function strip(b: Block): Omit<Block, 'hash'> {
  const { hash: _hash, ...rest } = b;
  return rest;
}

export function decodeMessage(bytes: Uint8Array): ConsensusMessage {
  const m = obj(unpack(bytes), 'message');
  switch (m.type) {
    case 'proposal': {
      const p = obj(m.proposal, 'proposal');
      return { type: 'proposal', proposal: { block: block(p.block), tc: p.tc === null ? null : tc(p.tc), sig: bytes64(p.sig) } };
    }
    case 'vote': {
      const v = obj(m.vote, 'vote');
      return { type: 'vote', vote: { round: uint(v.round), blockHash: hash(v.blockHash), signer: uint(v.signer), sig: bytes64(v.sig) } };
    }
    case 'timeout': {
      const t = obj(m.timeout, 'timeout');
      return {
        type: 'timeout',
        timeout: { round: uint(t.round), highQc: qc(t.highQc), signer: uint(t.signer), sig: bytes64(t.sig) },
        highTc: m.highTc === null ? null : tc(m.highTc),
      };
    }
    case 'sync-info':
      return { type: 'sync-info', highQc: qc(m.highQc), highTc: m.highTc === null ? null : tc(m.highTc) };
    case 'blocks-request':
      return { type: 'blocks-request', hash: hash(m.hash), count: uint(m.count) };
    case 'blocks-response':
      return { type: 'blocks-response', blocks: list(m.blocks, MAX_BLOCKS).map(block) };
    case 'sync-request': {
      const count = uint(m.count);
      if (count === 0 || count > MAX_SYNC_BLOCKS) return fail('bad sync-request count');
      return { type: 'sync-request', fromHeight: uint(m.fromHeight), count };
    }
    case 'sync-response':
      return { type: 'sync-response', blocks: list(m.blocks, MAX_SYNC_BLOCKS).map(block) };
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
  const d = obj(unpack(bytes), 'safety data');
  if (d.version !== 1) return fail('unsupported safety data version');
  return { version: 1, lastVotedRound: uint(d.lastVotedRound), highQc: qc(d.highQc) };
}

export function encodeBlock(b: Block): Uint8Array {
  return packr.pack(strip(b));
}

export function decodeBlock(bytes: Uint8Array): Block {
  return block(unpack(bytes));
}

/** A committed block with the QC that certifies it (what a node restarts its block tree from). */
export function encodeCommittedBlock(c: { block: Block; qc: QuorumCert }): Uint8Array {
  return packr.pack({ block: strip(c.block), qc: c.qc });
}

export function decodeCommittedBlock(bytes: Uint8Array): { block: Block; qc: QuorumCert } {
  const c = obj(unpack(bytes), 'committed block');
  return { block: block(c.block), qc: qc(c.qc) };
}

export function encodeTimeoutCert(t: TimeoutCert): Uint8Array {
  return packr.pack(t);
}

export function decodeTimeoutCert(bytes: Uint8Array): TimeoutCert {
  return tc(unpack(bytes));
}

function unpack(bytes: Uint8Array): unknown {
  try {
    return packr.unpack(bytes);
  } catch {
    return fail('not msgpack');
  }
}

function block(x: unknown): Block {
  const b = obj(x, 'block');
  return makeBlock({
    chainId: uint(b.chainId),
    round: uint(b.round),
    height: uint(b.height),
    parentHash: hash(b.parentHash),
    qc: qc(b.qc),
    payload: list(b.payload, MAX_PAYLOAD).map(hash),
    proposer: uint(b.proposer),
    parentStateRoot: hash(b.parentStateRoot),
    timestampMs: uint(b.timestampMs),
  });
}

function qc(x: unknown): QuorumCert {
  const q = obj(x, 'qc');
  return { round: uint(q.round), blockHash: hash(q.blockHash), signatures: list(q.signatures, MAX_SIGS).map(sig) };
}

function tc(x: unknown): TimeoutCert {
  const t = obj(x, 'tc');
  return {
    round: uint(t.round),
    timeouts: list(t.timeouts, MAX_SIGS).map((y): TimeoutSignature => {
      const s = obj(y, 'timeout signature');
      return { signer: uint(s.signer), highQcRound: uint(s.highQcRound), sig: bytes64(s.sig) };
    }),
    highQc: qc(t.highQc),
  };
}

function sig(x: unknown): Signature {
  const s = obj(x, 'signature');
  return { signer: uint(s.signer), sig: bytes64(s.sig) };
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
