import type { Logger } from 'pino';
import { HotledgerError } from '../errors.js';
import type { PeerTransport } from '../network/index.js';
import { frameTxs, maxBatchBytes } from '../tx/frames.js';

/**
 * The ordering layer's peer messages (the consensus core's own messages travel inside `c`).
 * Batches travel apart from proposals, which carry their digests.
 */
export type PeerMessage =
  | { k: 'c'; m: Uint8Array }
  /** A disseminated batch; `i` is the origin's boot id, `n` its sequence number (BatchSequencer). */
  | { k: 'b'; txs: Uint8Array; i?: number; n?: number }
  /** Ask a batch's origin again for its sequence numbers f..t of boot i. */
  | { k: 'bn'; i: number; f: number; t: number }
  /** Ask for batches by digest. */
  | { k: 'bq'; d: Uint8Array[] }
  /** Batches asked for with `bq`, with the certificates the server holds for them (BatchCertificates). */
  | { k: 'br'; txs: Uint8Array[]; c?: WireBatchCert[] }
  /** A batch vote: the sender verified and stores the batch with digest `d` and content hash `h`; `s` signs batchVoteBytes. */
  | { k: 'bv'; d: Uint8Array; h: Uint8Array; s: Uint8Array }
  /** Ask for batch certificates by digest. */
  | { k: 'cq'; d: Uint8Array[] }
  /** Batch certificates (answer to `cq`). */
  | { k: 'cr'; c: WireBatchCert[] }
  /** Follower to validator: committed records from height h on, then (if l) every new commit. */
  | { k: 'fs'; h: number; l: boolean }
  /** Validator to follower: committed records (encoded CommittedBlock, oldest first) and the live 2-chain `p` when they reach the validator's root. */
  | { k: 'fc'; c: Uint8Array[]; p?: Uint8Array };

/** A batch certificate on the wire: digest, content hash, signer indices (ascending) and their signatures. */
export interface WireBatchCert {
  d: Uint8Array;
  h: Uint8Array;
  v: number[];
  s: Uint8Array[];
}

/** Signers per certificate: no validator set is larger than this. */
const MAX_CERT_SIGNERS = 256;

/** Records per `fc` (the follower's catch-up chunk, FollowerCore's FOLLOW_CHUNK). */
export const MAX_RECORDS_PER_FOLLOW = 64;

/** Digests per `bq`, batches per `br`, and sequence numbers per `bn`: what an honest node asks. */
export const MAX_BATCHES_PER_REQUEST = 64;

export interface PeerWireLimits {
  /** Largest transactions per batch (pipeline.batchSize bounds every honest origin). */
  maxBatchTxs: number;
  /** Largest encoded consensus message (`maxMessageBytes` of the consensus codec). */
  maxConsensusBytes: number;
}

/**
 * Checks a decoded peer message against the schema and its bounds before anything uses it. msgpack
 * hands back whatever the sender encoded: `{ k: 'b', txs: { length: 1.6e9 } }` is 30 bytes, and
 * `Buffer.from()` of it asked for a 1.6 GB buffer. Throws `PEER_MESSAGE_INVALID` naming what failed.
 */
export function parsePeerMessage(raw: unknown, l: PeerWireLimits): PeerMessage {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return invalid('not a map');
  const m = raw as Record<string, unknown>;
  switch (m.k) {
    case 'c':
      bytes(m.m, 'c.m', 1, l.maxConsensusBytes);
      return { k: 'c', m: m.m as Uint8Array };
    case 'b': {
      batch(m.txs, 'b.txs', l.maxBatchTxs);
      if ((m.i === undefined) !== (m.n === undefined)) return invalid('b: i and n go together');
      if (m.i !== undefined) {
        u32(m.i, 'b.i');
        u32(m.n, 'b.n');
        return { k: 'b', txs: m.txs as Uint8Array, i: m.i as number, n: m.n as number };
      }
      return { k: 'b', txs: m.txs as Uint8Array };
    }
    case 'bn': {
      u32(m.i, 'bn.i');
      u32(m.f, 'bn.f');
      u32(m.t, 'bn.t');
      if ((m.t as number) < (m.f as number)) return invalid('bn: t below f');
      return { k: 'bn', i: m.i as number, f: m.f as number, t: m.t as number };
    }
    case 'bq': {
      list(m.d, 'bq.d');
      for (const d of m.d as unknown[]) bytes(d, 'bq.d[]', 32, 32);
      return { k: 'bq', d: m.d as Uint8Array[] };
    }
    case 'br': {
      list(m.txs, 'br.txs');
      for (const t of m.txs as unknown[]) batch(t, 'br.txs[]', l.maxBatchTxs);
      if (m.c === undefined) return { k: 'br', txs: m.txs as Uint8Array[] };
      list(m.c, 'br.c');
      for (const c of m.c as unknown[]) cert(c, 'br.c[]');
      return { k: 'br', txs: m.txs as Uint8Array[], c: m.c as WireBatchCert[] };
    }
    case 'bv':
      bytes(m.d, 'bv.d', 32, 32);
      bytes(m.h, 'bv.h', 32, 32);
      bytes(m.s, 'bv.s', 64, 64);
      return { k: 'bv', d: m.d as Uint8Array, h: m.h as Uint8Array, s: m.s as Uint8Array };
    case 'cq': {
      list(m.d, 'cq.d');
      for (const d of m.d as unknown[]) bytes(d, 'cq.d[]', 32, 32);
      return { k: 'cq', d: m.d as Uint8Array[] };
    }
    case 'cr': {
      list(m.c, 'cr.c');
      for (const c of m.c as unknown[]) cert(c, 'cr.c[]');
      return { k: 'cr', c: m.c as WireBatchCert[] };
    }
    case 'fs':
      if (typeof m.h !== 'number' || !Number.isSafeInteger(m.h) || m.h < 1) return invalid('fs.h is not a height');
      if (typeof m.l !== 'boolean') return invalid('fs.l is not a boolean');
      return { k: 'fs', h: m.h, l: m.l };
    case 'fc': {
      if (!Array.isArray(m.c) || m.c.length === 0 || m.c.length > MAX_RECORDS_PER_FOLLOW) return invalid(`fc.c must list 1..${MAX_RECORDS_PER_FOLLOW} records`);
      for (const r of m.c as unknown[]) bytes(r, 'fc.c[]', 1, l.maxConsensusBytes);
      if (m.p !== undefined) bytes(m.p, 'fc.p', 1, l.maxConsensusBytes);
      return m.p === undefined ? { k: 'fc', c: m.c as Uint8Array[] } : { k: 'fc', c: m.c as Uint8Array[], p: m.p as Uint8Array };
    }
    default:
      return invalid(`unknown kind ${JSON.stringify(String(m.k).slice(0, 16))}`);
  }
}

function invalid(why: string): never {
  throw new HotledgerError('PEER_MESSAGE_INVALID', `peer message rejected: ${why}`);
}

function bytes(v: unknown, what: string, min: number, max: number): void {
  if (!(v instanceof Uint8Array)) invalid(`${what} is not bytes`);
  if (v.length < min || v.length > max) invalid(`${what} has ${v.length} bytes, allowed ${min}..${max}`);
}

function batch(v: unknown, what: string, maxTxs: number): void {
  bytes(v, what, 1, maxBatchBytes(maxTxs));
  if (!frameTxs(v as Uint8Array, maxTxs)) invalid(`${what} is not a whole number of transactions (at most ${maxTxs})`);
}

function cert(v: unknown, what: string): void {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) invalid(`${what} is not a map`);
  const c = v as Record<string, unknown>;
  bytes(c.d, `${what}.d`, 32, 32);
  bytes(c.h, `${what}.h`, 32, 32);
  if (!Array.isArray(c.v) || !Array.isArray(c.s) || c.v.length === 0 || c.v.length > MAX_CERT_SIGNERS || c.v.length !== c.s.length) {
    invalid(`${what} must list 1..${MAX_CERT_SIGNERS} signers, each with one signature`);
  }
  for (const i of c.v as unknown[]) if (typeof i !== 'number' || !Number.isInteger(i) || i < 0 || i >= MAX_CERT_SIGNERS) invalid(`${what}.v[] is not a validator index`);
  for (const s of c.s as unknown[]) bytes(s, `${what}.s[]`, 64, 64);
}

function list(v: unknown, what: string): void {
  if (!Array.isArray(v)) invalid(`${what} is not a list`);
  if (v.length === 0 || v.length > MAX_BATCHES_PER_REQUEST) invalid(`${what} has ${v.length} entries, allowed 1..${MAX_BATCHES_PER_REQUEST}`);
}

function u32(v: unknown, what: string): void {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff) invalid(`${what} is not a u32`);
}

/**
 * Sends an ordering-layer message to one member or to all (`only` selects whom, e.g. validators).
 * A send that fails (frame too large, link closed) is logged and reported, never thrown into the
 * caller's protocol step or swallowed.
 */
export function sendPeerMessage(
  transport: PeerTransport,
  to: number | 'all',
  m: PeerMessage,
  o: { logger: Logger; only?: (index: number) => boolean; onFail?: (to: number) => void },
): void {
  try {
    if (to === 'all') transport.broadcast(m, o.only);
    else transport.send(to, m);
  } catch (e) {
    o.logger.error({ to, kind: m.k, err: (e as Error).message }, 'could not send a peer message');
    o.onFail?.(to === 'all' ? -1 : to);
  }
}
