import { describe, it, expect, afterAll } from 'vitest';
import { ConsensusStore, PRUNE_PER_WRITE } from '../../src/storage/consensus-store.js';
import { tempDir } from '../support/fixtures.js';

/**
 * Item 12 (pruning): the stored consensus chain keeps the newest `retainBlocks` heights, deletes
 * older ones in the same write as new commits (at most PRUNE_PER_WRITE per write), stops growing
 * on disk once the window is full, and tells the node when a peer asks for a pruned height.
 */
const dirs: { remove(): void }[] = [];
afterAll(() => {
  for (const d of dirs) d.remove();
});

/** A committed block's stored bytes: about the size of a heartbeat block with its QC. */
function block(height: number): Uint8Array {
  const b = new Uint8Array(600);
  new DataView(b.buffer).setUint32(0, height);
  return b;
}

/** Commits heights from..to in writes of 1 to 3 blocks, each with the root like the orderer's. */
async function commit(store: ConsensusStore, from: number, to: number): Promise<void> {
  for (let h = from; h <= to; ) {
    const n = Math.min(1 + (h % 3), to - h + 1);
    const blocks = Array.from({ length: n }, (_, i) => ({ height: h + i, bytes: block(h + i) }));
    await store.putDurable({ root: block(h + n - 1) }, blocks);
    h += n;
  }
}

function stored(store: ConsensusStore, from: number, to: number): number[] {
  const out: number[] = [];
  for (let h = from; h <= to; h++) if (store.getCommittedBlock(h)) out.push(h);
  return out;
}

describe('consensus store pruning', () => {
  it('written past its retention R it keeps exactly the newest R heights, and its size stops growing', async () => {
    const dir = tempDir('hotledger-cstore-');
    dirs.push(dir);
    const R = 200;
    const store = new ConsensusStore(dir.path, 64, { retainBlocks: R });
    await commit(store, 1, 4 * R);
    const at4R = store.usedBytes;
    await commit(store, 4 * R + 1, 20 * R);
    const at20R = store.usedBytes;
    const kept = stored(store, 1, 20 * R);
    expect(kept).toHaveLength(R);
    expect(kept[0]).toBe(19 * R + 1);
    expect(kept[R - 1]).toBe(20 * R);
    expect(store.committedRange).toEqual({ lowest: 19 * R + 1, highest: 20 * R });
    // Five times more blocks written, no more space used (freed pages are reused).
    expect(at20R).toBeLessThanOrEqual(at4R * 1.1);
    await store.close();

    // Reopened, it knows its window and goes on pruning from there.
    const again = new ConsensusStore(dir.path, 64, { retainBlocks: R });
    expect(again.committedRange).toEqual({ lowest: 19 * R + 1, highest: 20 * R });
    await commit(again, 20 * R + 1, 20 * R + 10);
    expect(stored(again, 1, 20 * R + 10)).toHaveLength(R);
    await again.close();
  }, 120_000);

  it('a store far beyond a newly lowered retention shrinks by at most PRUNE_PER_WRITE heights per write', async () => {
    const dir = tempDir('hotledger-cstore-');
    dirs.push(dir);
    const big = new ConsensusStore(dir.path, 64, { retainBlocks: 1_000_000 });
    await commit(big, 1, 2_000);
    await big.close();
    const R = 100;
    const store = new ConsensusStore(dir.path, 64, { retainBlocks: R });
    await store.putDurable({}, [{ height: 2_001, bytes: block(2_001) }]);
    expect(store.committedRange.lowest).toBe(1 + PRUNE_PER_WRITE);
    expect(stored(store, 1, PRUNE_PER_WRITE)).toEqual([]);
    // 1,910 heights over the window: gone after ceil(1910 / PRUNE_PER_WRITE) = 8 writes.
    for (let h = 2_002; h <= 2_008; h++) await store.putDurable({}, [{ height: h, bytes: block(h) }]);
    expect(stored(store, 1, 2_008)).toHaveLength(R);
    await store.close();
  }, 60_000);

  it('a read of a pruned height answers missing and is reported (rate-limited), unknown heights are not', async () => {
    const dir = tempDir('hotledger-cstore-');
    dirs.push(dir);
    const reports: [number, number][] = [];
    const store = new ConsensusStore(dir.path, 64, { retainBlocks: 50, onPrunedRead: (h, low) => reports.push([h, low]) });
    await commit(store, 1, 200);
    expect(store.getCommittedBlock(10)).toBeUndefined();
    expect(store.getCommittedBlock(11)).toBeUndefined();
    expect(store.getCommittedBlock(151)).toBeDefined();
    expect(store.getCommittedBlock(500)).toBeUndefined(); // not yet committed: not a pruned read
    expect(reports).toEqual([[10, 151]]);
    await store.close();
  });
});
