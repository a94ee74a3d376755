import { hex, type Block, type CommittedBlock, type QuorumCert } from './types.js';

/**
 * Blocks above the last committed block (the root), the QC known for each, and the 2-chain
 * commit rule. Committed blocks are kept for a bounded window to serve lagging peers' sync.
 */
export class BlockTree {
  private readonly blocks = new Map<string, Block>();
  private readonly qcs = new Map<string, QuorumCert>();
  private rootBlock: Block;
  private rootQc: QuorumCert;
  /** Committed chain, oldest first, bounded to `retain` entries (root last). */
  private readonly committedChain: Block[] = [];
  /** Hashes of certified 2-chains that do not extend the root, drained by the core. */
  readonly conflicts: string[] = [];
  /**
   * The certified direct child (round + 1) of the last committed block, with its QC: with the
   * root's own QC, the 2-chain that proves the root committed to someone who trusts no validator.
   */
  private proof: CommittedBlock | undefined;

  /**
   * `unsafeOneChain` is a test-only fault injection: commit a block as soon as it is certified.
   * It exists so the simulator can prove its invariant checker catches a real safety bug.
   */
  constructor(
    root: Block,
    rootQc: QuorumCert,
    private readonly retain = 1_000,
    private readonly unsafeOneChain = false,
  ) {
    this.rootBlock = root;
    this.rootQc = rootQc;
    this.blocks.set(hex(root.hash), root);
    this.qcs.set(hex(root.hash), rootQc);
    this.committedChain.push(root);
  }

  get root(): Block {
    return this.rootBlock;
  }

  get(hash: Uint8Array | string): Block | undefined {
    return this.blocks.get(typeof hash === 'string' ? hash : hex(hash));
  }

  has(hash: Uint8Array): boolean {
    return this.blocks.has(hex(hash));
  }

  qcFor(hash: Uint8Array): QuorumCert | undefined {
    return this.qcs.get(hex(hash));
  }

  /**
   * Adds a block whose parent is present. Returns false for a block that does not fit (unknown
   * parent, at or below the root, inconsistent height/round) so the caller can sync or drop it.
   */
  insert(block: Block): boolean {
    const key = hex(block.hash);
    if (this.blocks.has(key)) return true;
    if (block.height <= this.rootBlock.height) return false;
    const parent = this.blocks.get(hex(block.parentHash));
    if (parent === undefined) return false;
    if (block.height !== parent.height + 1 || block.round <= parent.round) return false;
    if (block.qc.round !== parent.round) return false;
    this.blocks.set(key, block);
    this.addQc(block.qc);
    return true;
  }

  addQc(qc: QuorumCert): void {
    const key = hex(qc.blockHash);
    if (!this.qcs.has(key)) this.qcs.set(key, qc);
  }

  /** Whether `ancestor` is on the path from `block` back to the root (inclusive both ends). */
  extends(block: Block, ancestorHash: Uint8Array): boolean {
    const target = hex(ancestorHash);
    let cur: Block | undefined = block;
    while (cur !== undefined) {
      if (hex(cur.hash) === target) return true;
      if (cur.height <= this.rootBlock.height) return false;
      cur = this.blocks.get(hex(cur.parentHash));
    }
    return false;
  }

  /** Digests in blocks from `block` back to (excluding) the root: what a child must not repeat. */
  uncommittedDigests(block: Block): Set<string> {
    const out = new Set<string>();
    let cur: Block | undefined = block;
    while (cur !== undefined && cur.height > this.rootBlock.height) {
      for (const d of cur.payload) out.add(hex(d));
      cur = this.blocks.get(hex(cur.parentHash));
    }
    return out;
  }

  /**
   * 2-chain commit rule: when block B is certified and its parent P has round B.round - 1, P and
   * every uncommitted ancestor of P commit. Call whenever a block or a QC is added.
   * Returns the newly committed blocks, oldest first, each with the QC that certifies it.
   */
  tryCommit(certifiedHash: Uint8Array): CommittedBlock[] {
    const b = this.blocks.get(hex(certifiedHash));
    if (b === undefined || !this.qcs.has(hex(certifiedHash))) return [];
    const p = this.unsafeOneChain ? b : this.blocks.get(hex(b.parentHash));
    if (p === undefined || p.height <= this.rootBlock.height) return [];
    if (!this.unsafeOneChain && p.round + 1 !== b.round) return [];
    const chain: Block[] = [];
    let cur: Block | undefined = p;
    while (cur !== undefined && cur.height > this.rootBlock.height) {
      chain.push(cur);
      cur = this.blocks.get(hex(cur.parentHash));
    }
    // A certified 2-chain off our committed chain means more than f validators are Byzantine:
    // refuse to commit it (the caller raises an alarm) rather than fork the ledger.
    if (cur === undefined || hex(cur.hash) !== hex(this.rootBlock.hash)) {
      this.conflicts.push(hex(p.hash));
      return [];
    }
    chain.reverse();
    const out: CommittedBlock[] = [];
    for (const c of chain) {
      out.push({ block: c, qc: this.qcs.get(hex(c.hash))! });
    }
    const last = chain[chain.length - 1]!;
    if (!this.unsafeOneChain) this.proof = { block: b, qc: this.qcs.get(hex(certifiedHash))! };
    this.rootBlock = last;
    this.rootQc = this.qcs.get(hex(last.hash))!;
    for (const c of chain) this.committedChain.push(c);
    this.prune();
    return out;
  }

  /** The committed block at `height` while it is inside the retention window. */
  committedAt(height: number): Block | undefined {
    const first = this.committedChain[0];
    return first === undefined ? undefined : this.committedChain[height - first.height];
  }

  /**
   * Up to `count` committed blocks from `fromHeight` on: from the retention window, then from
   * `older` (the node's committed-chain store). Stops at the first height neither has, or that
   * does not link, so the run is always one hash-linked chain.
   */
  committedRun(fromHeight: number, count: number, older?: { get(height: number): Block | undefined }): Block[] {
    const blocks: Block[] = [];
    const start = Math.max(1, fromHeight);
    const end = Math.min(start + count, this.rootBlock.height + 1);
    for (let h = start; h < end; h++) {
      const b = this.committedAt(h) ?? older?.get(h);
      const prev = blocks[blocks.length - 1];
      if (b === undefined || b.height !== h || (prev !== undefined && hex(b.parentHash) !== hex(prev.hash))) break;
      blocks.push(b);
    }
    return blocks;
  }

  get rootCert(): QuorumCert {
    return this.rootQc;
  }

  /** The 2-chain above the root (see `proof`); undefined before the first commit of this run. */
  get commitProof(): CommittedBlock | undefined {
    return this.proof;
  }

  /** Drops forks at or below the root and committed blocks beyond the retention window. */
  private prune(): void {
    while (this.committedChain.length > this.retain) {
      const old = this.committedChain.shift()!;
      this.blocks.delete(hex(old.hash));
      this.qcs.delete(hex(old.hash));
    }
    // Forks are rare: sweep only when non-chain blocks pile up, so a commit stays O(1) amortised.
    if (this.blocks.size - this.committedChain.length < 128) return;
    const keep = new Set(this.committedChain.map((b) => hex(b.hash)));
    for (const [k, b] of this.blocks) {
      if (b.height <= this.rootBlock.height && !keep.has(k)) {
        this.blocks.delete(k);
        this.qcs.delete(k);
      }
    }
  }

  /** Up to `count` blocks from `hash` back towards genesis, newest first (for sync responses). */
  ancestry(hash: Uint8Array, count: number): Block[] {
    const out: Block[] = [];
    let cur = this.blocks.get(hex(hash));
    while (cur !== undefined && out.length < count && cur.height > 0) {
      out.push(cur);
      cur = this.blocks.get(hex(cur.parentHash));
    }
    return out;
  }

  get size(): number {
    return this.blocks.size;
  }
}
