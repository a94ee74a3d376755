import { closeSync, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConsensusStore } from '../../src/storage/consensus-store.js';
import { SafetyFile } from '../../src/storage/safety-file.js';
import { tempDir } from '../support/fixtures.js';

/**
 * The safety file holds what a vote waits for (safety data, high TC, uncommitted blocks): two
 * slots written in turn, each with a SHA-256, so a crash mid-write leaves the previous record.
 */
const dirs: { remove(): void }[] = [];
afterAll(() => {
  for (const d of dirs) d.remove();
});
const fresh = (): string => {
  const d = tempDir('hotledger-safety-');
  dirs.push(d);
  return d.path;
};
const bytes = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill);

/** Overwrites part of a slot, as a write torn by a crash would. */
function tear(path: string, slot: number): void {
  const slotSize = statSync(path).size / 2;
  const fd = openSync(path, 'r+');
  writeSync(fd, Buffer.alloc(40, 0xee), 0, 40, slot * slotSize + 60);
  closeSync(fd);
}

describe('SafetyFile', () => {
  it('keeps the merged record across a reopen', async () => {
    const path = join(fresh(), 'safety.bin');
    const f = new SafetyFile(path);
    expect(f.hasRecord).toBe(false);
    await f.put({ safety: bytes(100, 1), blocks: [bytes(10, 2), bytes(10, 3)] });
    await f.put({ tc: bytes(50, 4) });
    await f.put({ safety: bytes(100, 5) });
    await f.close();
    const g = new SafetyFile(path);
    expect(g.hasRecord).toBe(true);
    expect(Buffer.from(g.get('safety') as Uint8Array)).toEqual(Buffer.from(bytes(100, 5)));
    expect(Buffer.from(g.get('tc') as Uint8Array)).toEqual(Buffer.from(bytes(50, 4)));
    expect((g.get('blocks') as Uint8Array[]).map((b) => b[0])).toEqual([2, 3]);
    await g.close();
  });

  it('a torn newest slot leaves the record before it; two damaged slots are refused, not read as empty', async () => {
    const path = join(fresh(), 'safety.bin');
    const f = new SafetyFile(path);
    for (let i = 1; i <= 3; i++) await f.put({ safety: bytes(64, i) });
    await f.close();
    // Record 3 went to slot 1 (record k to slot k mod 2).
    tear(path, 1);
    const g = new SafetyFile(path);
    expect((g.get('safety') as Uint8Array)[0]).toBe(2);
    // Writing on goes to the torn slot (record 3 again), then the other.
    await g.put({ safety: bytes(64, 7) });
    await g.close();
    expect((new SafetyFile(path).get('safety') as Uint8Array)[0]).toBe(7);
    tear(path, 0);
    tear(path, 1);
    expect(() => new SafetyFile(path)).toThrow(expect.objectContaining({ code: 'STORAGE_CORRUPT' }));
  });

  it('the first write torn by a crash reads as no record', async () => {
    const path = join(fresh(), 'safety.bin');
    const f = new SafetyFile(path);
    await f.put({ safety: bytes(64, 1) });
    await f.close();
    tear(path, 1);
    expect(new SafetyFile(path).hasRecord).toBe(false);
  });

  it('a record larger than its slot moves to a larger file, and stays readable', async () => {
    const path = join(fresh(), 'safety.bin');
    const f = new SafetyFile(path);
    await f.put({ safety: bytes(64, 1) });
    const before = statSync(path).size;
    const blocks = Array.from({ length: 100 }, (_, i) => bytes(2_000, i));
    await f.put({ blocks });
    expect(statSync(path).size).toBeGreaterThan(before);
    await f.put({ safety: bytes(64, 9) });
    await f.close();
    const g = new SafetyFile(path);
    expect((g.get('safety') as Uint8Array)[0]).toBe(9);
    expect((g.get('blocks') as Uint8Array[]).map((b) => b[0])).toEqual(blocks.map((b) => b[0]));
    await g.close();
  });
});

describe('ConsensusStore.putSafety', () => {
  it('shadows the LMDB record of the same key, survives a reopen, and counts as not empty', async () => {
    const dir = fresh();
    const store = new ConsensusStore(dir, 64);
    expect(store.empty).toBe(true);
    await store.putDurable({ 'consensus/safety': bytes(8, 1), 'consensus/root': bytes(8, 2) });
    await store.putSafety({ 'consensus/safety': bytes(8, 3) });
    expect((store.get<Uint8Array>('consensus/safety') as Uint8Array)[0]).toBe(3);
    expect((store.get<Uint8Array>('consensus/root') as Uint8Array)[0]).toBe(2);
    await store.close();
    const again = new ConsensusStore(dir, 64);
    expect((again.get<Uint8Array>('consensus/safety') as Uint8Array)[0]).toBe(3);
    await again.close();
    const onlySafety = fresh();
    const s = new ConsensusStore(onlySafety, 64);
    await s.putSafety({ 'consensus/safety': bytes(8, 4) });
    await s.close();
    expect(new ConsensusStore(onlySafety, 64).empty).toBe(false);
  });
});
