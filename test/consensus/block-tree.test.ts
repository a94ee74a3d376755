import { describe, expect, it } from 'vitest';
import { BlockTree } from '../../src/consensus/block-tree.js';
import { genesisBlock, genesisQc, hex, makeBlock, type Block, type QuorumCert } from '../../src/consensus/types.js';

const CHAIN = 1;
const qcOf = (b: Block): QuorumCert => ({ round: b.round, blockHash: b.hash, signatures: [] });

function child(parent: Block, round: number, tag = 0): Block {
  return makeBlock({
    chainId: CHAIN,
    round,
    height: parent.height + 1,
    parentHash: parent.hash,
    qc: qcOf(parent),
    payload: tag === 0 ? [] : [new Uint8Array(32).fill(tag)],
    proposer: round % 4,
    parentStateRoot: new Uint8Array(32),
    timestampMs: round,
  });
}

describe('BlockTree and the 2-chain commit rule', () => {
  const g = genesisBlock(CHAIN);
  const fresh = (): BlockTree => new BlockTree(g, genesisQc(CHAIN));

  it('commits B when its child in the next round is certified', () => {
    const t = fresh();
    const b1 = child(g, 1);
    const b2 = child(b1, 2);
    expect(t.insert(b1)).toBe(true);
    expect(t.insert(b2)).toBe(true); // carries QC(b1): b1 certified, b2 not yet
    expect(t.tryCommit(b1.hash)).toEqual([]); // b1's parent is genesis (the root): nothing new
    t.addQc(qcOf(b2));
    const c = t.tryCommit(b2.hash);
    expect(c.map((x) => x.block.height)).toEqual([1]);
    expect(hex(c[0]!.qc.blockHash)).toBe(hex(b1.hash));
    expect(t.root.height).toBe(1);
  });

  it('does not commit across a round gap, then commits the whole prefix at the next 2-chain', () => {
    const t = fresh();
    const b1 = child(g, 1);
    const b3 = child(b1, 3); // round 2 timed out
    const b4 = child(b3, 4);
    const b5 = child(b4, 5);
    for (const b of [b1, b3, b4]) expect(t.insert(b)).toBe(true);
    t.addQc(qcOf(b3));
    expect(t.tryCommit(b3.hash)).toEqual([]); // b1 (round 1) -> b3 (round 3): not consecutive
    expect(t.insert(b5)).toBe(true); // certifies b4 (round 4 = 3 + 1): commits b3 and b1
    const c = t.tryCommit(b4.hash);
    expect(c.map((x) => x.block.round)).toEqual([1, 3]);
  });

  it('rejects blocks that do not fit: unknown parent, wrong height, QC round not the parent round', () => {
    const t = fresh();
    const b1 = child(g, 1);
    expect(t.insert(child(b1, 2))).toBe(false);
    t.insert(b1);
    const badHeight = makeBlock({ ...child(b1, 2), height: 5 });
    expect(t.insert(badHeight)).toBe(false);
    const badQc = makeBlock({ ...child(b1, 2), qc: { round: 0, blockHash: b1.hash, signatures: [] } });
    expect(t.insert(badQc)).toBe(false);
  });

  it('raises an alarm instead of committing a certified chain that forks from the root', () => {
    const t = fresh();
    const a1 = child(g, 1, 1);
    const a2 = child(a1, 2);
    const a3 = child(a2, 3);
    for (const b of [a1, a2, a3]) t.insert(b);
    t.addQc(qcOf(a3));
    expect(t.tryCommit(a3.hash).map((x) => x.block.round)).toEqual([1, 2]);
    // A fork below the root (only possible with > f Byzantine): never committed.
    expect(t.insert(child(g, 1, 2))).toBe(false);
    expect(t.conflicts).toEqual([]);
  });

  it('serves ancestry newest first for sync', () => {
    const t = fresh();
    const b1 = child(g, 1);
    const b2 = child(b1, 2);
    const b3 = child(b2, 3);
    for (const b of [b1, b2, b3]) t.insert(b);
    expect(t.ancestry(b3.hash, 2).map((b) => b.round)).toEqual([3, 2]);
    expect(t.ancestry(b3.hash, 10).map((b) => b.round)).toEqual([3, 2, 1]);
  });
});
