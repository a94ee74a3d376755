import { createHash } from 'node:crypto';
import type { ConsensusCrypto } from '../consensus/crypto.js';
import { faultTolerance, type Hash } from '../consensus/types.js';
import type { WireBatchCert } from './peer-wire.js';

/**
 * A batch certificate as data: the vote statement, who verifies a batch (the verifier order), the
 * content hash a vote binds, the wire form and the check of a certificate against the validator
 * set. BatchCertificates (batch-certificates.ts) runs the protocol; followers only check.
 */

const VOTE_TAG = new TextEncoder().encode('hotledger/batch-vote/v1');

export interface BatchVote {
  digest: Hash;
  /** SHA-256 of the batch's full bytes, signatures included: the digest covers transaction ids only. */
  content: Hash;
  signer: number;
  sig: Uint8Array;
}

export interface BatchCertificate {
  digest: Hash;
  content: Hash;
  /** Distinct validator indices, ascending, with their signatures in the same order. */
  signers: number[];
  sigs: Uint8Array[];
}

/** The statement a batch vote signs: domain tag, chain id, digest, content hash. */
export function batchVoteBytes(chainId: number, digest: Hash, content: Hash): Uint8Array {
  const out = new Uint8Array(VOTE_TAG.length + 4 + 64);
  out.set(VOTE_TAG, 0);
  new DataView(out.buffer).setUint32(VOTE_TAG.length, chainId >>> 0);
  out.set(digest.subarray(0, 32), VOTE_TAG.length + 4);
  out.set(content.subarray(0, 32), VOTE_TAG.length + 36);
  return out;
}

/**
 * The order in which validators verify a batch: its origin first (it verified the transactions at
 * admission), then the others from a start the digest picks, in index order around the ring. The
 * first f+1 are the designated verifiers; escalation walks on down the list. Every node computes
 * the same list from the digest and origin, and a batch whose origin is not a validator (a business
 * node's) starts straight at the digest's pick.
 */
export function verifierOrder(digest: Hash, origin: number, n: number): number[] {
  const start = ((digest[0]! << 24) | (digest[1]! << 16) | (digest[2]! << 8) | digest[3]!) >>> 0;
  const out: number[] = [];
  if (origin >= 0 && origin < n) out.push(origin);
  for (let i = 0; i < n; i++) {
    const v = (start + i) % n;
    if (v !== origin) out.push(v);
  }
  return out;
}

/** SHA-256 of a batch's full bytes, signatures included: what a batch vote certifies besides the digest. */
export function batchContentHash(txs: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(txs).digest());
}

export function certToWire(c: BatchCertificate): WireBatchCert {
  return { d: c.digest, h: c.content, v: c.signers, s: c.sigs };
}

export function certFromWire(c: WireBatchCert): BatchCertificate {
  return { digest: c.d, content: c.h, signers: c.v, sigs: c.s };
}

/**
 * Whether `c` is a certificate of the validator set: at least `quorum` (f + 1 unless given) distinct
 * validators, ascending, each with a valid signature on (digest, content). Followers check the
 * batches they are served with it, validators the certificates they are sent.
 */
export function validBatchCertificate(c: BatchCertificate, set: { chainId: number; validators: number; crypto: ConsensusCrypto; quorum?: number }): boolean {
  const quorum = set.quorum ?? faultTolerance(set.validators).f + 1;
  if (c.signers.length < quorum || c.signers.length !== c.sigs.length || c.signers.length > set.validators) return false;
  const msg = batchVoteBytes(set.chainId, c.digest, c.content);
  for (let i = 0; i < c.signers.length; i++) {
    const s = c.signers[i]!;
    if (!Number.isInteger(s) || s < 0 || s >= set.validators || (i > 0 && s <= c.signers[i - 1]!)) return false;
    if (!set.crypto.verify(s, msg, c.sigs[i]!)) return false;
  }
  return true;
}
