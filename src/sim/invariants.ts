import { equalBytes, hex, type Block } from '../consensus/types.js';

/**
 * Safety invariants over what honest nodes commit: one block per height across all nodes, and
 * each node's commits form one hash-linked chain with no gaps (so prefixes agree).
 */
export class InvariantChecker {
  private readonly byHeight = new Map<number, string>();
  private readonly lastByNode = new Map<number, Block>();
  readonly violations: string[] = [];

  onCommit(node: number, block: Block): void {
    const h = hex(block.hash);
    const known = this.byHeight.get(block.height);
    if (known === undefined) this.byHeight.set(block.height, h);
    else if (known !== h) this.violations.push(`height ${block.height}: node ${node} committed ${h.slice(0, 12)}, another node ${known.slice(0, 12)}`);
    const last = this.lastByNode.get(node);
    if (last !== undefined) {
      if (block.height !== last.height + 1 || !equalBytes(block.parentHash, last.hash)) {
        this.violations.push(`node ${node}: commit at height ${block.height} does not extend its commit at height ${last.height}`);
      }
    } else if (block.height !== 1) {
      this.violations.push(`node ${node}: first commit at height ${block.height}, expected 1`);
    }
    this.lastByNode.set(node, block);
  }

  /**
   * A block a node accepts again at or below a height it already passed (a follower that restarts
   * from its durable root): it must be the block every node committed there.
   */
  onKnown(node: number, block: Block): void {
    const known = this.byHeight.get(block.height);
    if (known !== undefined && known !== hex(block.hash))
      this.violations.push(`height ${block.height}: node ${node} accepted ${hex(block.hash).slice(0, 12)} again, others committed ${known.slice(0, 12)}`);
  }

  /** A core's own alarm that a certified chain conflicts with what it committed. */
  onAlarm(node: number, what: string): void {
    this.violations.push(`node ${node}: ${what}`);
  }

  heightOf(node: number): number {
    return this.lastByNode.get(node)?.height ?? 0;
  }
}
