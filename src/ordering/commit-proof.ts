import { CertVerifier, equalBytes, type Block, type CommittedBlock, type ConsensusCrypto, type Hash } from '../consensus/index.js';

/** A follower's last committed consensus block: what the next run must hang off. */
export interface ChainTip {
  height: number;
  round: number;
  hash: Hash;
}

export type RunVerdict =
  /** `proven` leading records are committed (0: nothing proven yet, keep them and wait for more). */
  { ok: true; proven: number } | { ok: false; reason: string };

/**
 * Decides which blocks a follower may treat as committed, trusting no single validator.
 *
 * The 2-chain rule: block B is committed once B is certified and its direct child C (C.parent = B,
 * C.round = B.round + 1) is certified. So QC(B) plus C plus QC(C), all checked against the
 * configured validator set, prove B committed, and with it every ancestor of B. A run of committed
 * records (each a block with its own QC, as validators store them) therefore proves itself up to
 * the last record followed by a consecutive-round child; the validator's live 2-chain (`proof`)
 * proves its newest commit. Only the QCs of the proving pair are checked (two certificates per
 * run, cached): the records below it are bound to it by the hash chain from our tip.
 */
export class CommitVerifier {
  private readonly certs: CertVerifier;

  constructor(
    private readonly chainId: number,
    validators: number,
    crypto: ConsensusCrypto,
  ) {
    this.certs = new CertVerifier(chainId, validators, crypto);
  }

  verify(tip: ChainTip, records: readonly CommittedBlock[], proof?: CommittedBlock): RunVerdict {
    let prev: { height: number; hash: Hash } = tip;
    for (const r of records) {
      const b = r.block;
      if (b.chainId !== this.chainId) return bad(`block ${b.height}: chain id ${b.chainId}`);
      if (b.height !== prev.height + 1 || !equalBytes(b.parentHash, prev.hash)) return bad(`block ${b.height} does not extend height ${prev.height}`);
      if (r.qc.round !== b.round || !equalBytes(r.qc.blockHash, b.hash)) return bad(`block ${b.height}: its QC certifies another block`);
      if (!equalBytes(b.qc.blockHash, b.parentHash)) return bad(`block ${b.height}: its parent QC certifies another block`);
      prev = b;
    }
    for (let i = records.length - 1; i >= 0; i--) {
      const child = i + 1 < records.length ? records[i + 1]! : proof;
      if (child === undefined || !this.directChild(records[i]!.block, child.block)) continue;
      if (!equalBytes(child.qc.blockHash, child.block.hash) || child.qc.round !== child.block.round) return bad('proof: QC certifies another block');
      if (!this.certs.qc(records[i]!.qc) || !this.certs.qc(child.qc)) return bad(`block ${records[i]!.block.height}: invalid quorum certificate`);
      return { ok: true, proven: i + 1 };
    }
    return { ok: true, proven: 0 };
  }

  private directChild(b: Block, c: Block): boolean {
    return c.chainId === this.chainId && c.height === b.height + 1 && c.round === b.round + 1 && equalBytes(c.parentHash, b.hash) && equalBytes(c.qc.blockHash, b.hash);
  }
}

function bad(reason: string): RunVerdict {
  return { ok: false, reason };
}
