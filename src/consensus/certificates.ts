import type { ConsensusCrypto } from './crypto.js';
import {
  HASH_SIZE,
  equalBytes,
  faultTolerance,
  genesisQc,
  hex,
  proposalSigningBytes,
  timeoutSigningBytes,
  voteSigningBytes,
  type Proposal,
  type QuorumCert,
  type Timeout,
  type TimeoutCert,
  type Vote,
} from './types.js';

/**
 * Signature and certificate checks, with a cache of certificates already verified: the same QC
 * arrives inside every proposal, timeout and sync response, and re-verifying 2f+1 signatures
 * each time would dominate the cost of consensus.
 */
export class CertVerifier {
  readonly quorum: number;
  private readonly genesis: QuorumCert;
  private readonly verifiedQcs = new Map<string, QuorumCert>();
  private readonly verifiedTcs = new Set<string>();

  constructor(
    private readonly chainId: number,
    private readonly n: number,
    private readonly crypto: ConsensusCrypto,
  ) {
    this.quorum = faultTolerance(n).quorum;
    this.genesis = genesisQc(chainId);
  }

  /** Cached certificates (each cache is capped at 4096). */
  get size(): number {
    return this.verifiedQcs.size + this.verifiedTcs.size;
  }

  private validIndex(i: number): boolean {
    return Number.isInteger(i) && i >= 0 && i < this.n;
  }

  vote(v: Vote): boolean {
    return this.validIndex(v.signer) && v.blockHash.length === HASH_SIZE && this.crypto.verify(v.signer, voteSigningBytes(this.chainId, v.round, v.blockHash), v.sig);
  }

  timeout(t: Timeout): boolean {
    return (
      this.validIndex(t.signer) && t.highQc.round < t.round && this.crypto.verify(t.signer, timeoutSigningBytes(this.chainId, t.round, t.highQc.round), t.sig) && this.qc(t.highQc)
    );
  }

  proposal(p: Proposal): boolean {
    return this.validIndex(p.block.proposer) && this.crypto.verify(p.block.proposer, proposalSigningBytes(this.chainId, p.block.hash), p.sig);
  }

  /** A valid QC for this (round, block) was verified or formed here: any other one certifies the same. */
  knowsQc(round: number, blockHash: Uint8Array): boolean {
    return this.verifiedQcs.has(`${round}:${hex(blockHash)}`);
  }

  /** A QC this node aggregated from votes it verified one by one. */
  formed(qc: QuorumCert): void {
    this.remember(this.verifiedQcs, `${qc.round}:${hex(qc.blockHash)}`, qc);
  }

  /** 2f+1 distinct known signers, every signature valid. Duplicates invalidate the QC. */
  qc(qc: QuorumCert): boolean {
    if (qc.round === 0) return equalBytes(qc.blockHash, this.genesis.blockHash) && qc.signatures.length === 0;
    const key = `${qc.round}:${hex(qc.blockHash)}`;
    if (this.verifiedQcs.has(key)) return true;
    if (qc.signatures.length < this.quorum || qc.signatures.length > this.n) return false;
    const seen = new Set<number>();
    const msg = voteSigningBytes(this.chainId, qc.round, qc.blockHash);
    for (const s of qc.signatures) {
      if (!this.validIndex(s.signer) || seen.has(s.signer)) return false;
      seen.add(s.signer);
      if (!this.crypto.verify(s.signer, msg, s.sig)) return false;
    }
    this.remember(this.verifiedQcs, key, qc);
    return true;
  }

  tc(tc: TimeoutCert): boolean {
    const key = `${tc.round}:${hex(tc.highQc.blockHash)}:${tc.timeouts.map((t) => `${t.signer}/${t.highQcRound}`).join(',')}`;
    if (this.verifiedTcs.has(key)) return true;
    if (tc.timeouts.length < this.quorum || tc.timeouts.length > this.n) return false;
    if (tc.highQc.round !== Math.max(...tc.timeouts.map((t) => t.highQcRound)) || !this.qc(tc.highQc)) return false;
    const seen = new Set<number>();
    for (const t of tc.timeouts) {
      if (!this.validIndex(t.signer) || seen.has(t.signer) || t.highQcRound >= tc.round) return false;
      seen.add(t.signer);
      if (!this.crypto.verify(t.signer, timeoutSigningBytes(this.chainId, tc.round, t.highQcRound), t.sig)) return false;
    }
    this.verifiedTcs.add(key);
    if (this.verifiedTcs.size > 4096) this.verifiedTcs.clear();
    return true;
  }

  private remember(map: Map<string, QuorumCert>, key: string, qc: QuorumCert): void {
    map.set(key, qc);
    // Plain bound: old certificates are re-verified if they ever come back, which is rare.
    if (map.size > 4096) map.delete(map.keys().next().value!);
  }
}
