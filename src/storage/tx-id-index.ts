import { TX_ID_SIZE } from '../tx/layout.js';

/**
 * Where each transaction id that owns its outcome sits in the chain, held in memory: an
 * open-addressing table (linear probing) of the id's first 8 bytes → (height, position), 16 bytes
 * a slot. Ids are SHA-256 outputs, so their first bytes are uniform and serve as the hash.
 *
 * Why in memory and not an LMDB index keyed by id: one random B-tree insert per transaction cost
 * ~1 µs of JavaScript on the ledger thread alone (lmdb-js put) plus the native insert, a quarter
 * of the 1 M/s budget for nothing but the index (docs/decisions.md). The chain stores each block's
 * ids as one append-only value (`tx-ids`, keyed by height); this table is rebuilt from them at
 * start and answers "is this id final, and where" with no LMDB read for an absent id.
 *
 * An 8-byte match is a candidate only: `confirm` compares the full 32-byte id at that location, so
 * answers are exact (a prefix collision costs one more probe, never a wrong answer).
 */
export class TxIdIndex {
  private keyA: Uint32Array;
  private keyB: Uint32Array;
  /** 0 = empty slot: block 0 (genesis) holds no transactions. */
  private heights: Uint32Array;
  private positions: Uint32Array;
  private mask: number;
  private count = 0;

  /**
   * @param confirm whether the full id at (height, position) is `id`; called on an 8-byte match.
   * @param expected ids the table should hold without growing (sized for a load of at most 1/2).
   */
  constructor(
    private readonly confirm: (height: number, position: number, id: Uint8Array) => boolean,
    expected = 0,
  ) {
    let cap = 1024;
    while (cap < expected * 2) cap *= 2;
    this.mask = cap - 1;
    this.keyA = new Uint32Array(cap);
    this.keyB = new Uint32Array(cap);
    this.heights = new Uint32Array(cap);
    this.positions = new Uint32Array(cap);
  }

  get size(): number {
    return this.count;
  }

  /** Bytes the table holds (for the docs' memory figure and stats). */
  get bytes(): number {
    return this.heights.length * 16;
  }

  /** The slot holding `id`, or -1. */
  find(id: Uint8Array, offset = 0): number {
    const a = read32(id, offset);
    const b = read32(id, offset + 4);
    const heights = this.heights;
    for (let s = a & this.mask; heights[s] !== 0; s = (s + 1) & this.mask) {
      if (
        this.keyA[s] === a &&
        this.keyB[s] === b &&
        this.confirm(heights[s]!, this.positions[s]!, offset === 0 && id.length === TX_ID_SIZE ? id : id.subarray(offset, offset + TX_ID_SIZE))
      )
        return s;
    }
    return -1;
  }

  has(id: Uint8Array, offset = 0): boolean {
    return this.find(id, offset) >= 0;
  }

  heightAt(slot: number): number {
    return this.heights[slot]!;
  }

  positionAt(slot: number): number {
    return this.positions[slot]!;
  }

  /**
   * Records `id` at (height ≥ 1, position) unless the table holds it already: one probe for both.
   * Returns whether it was added.
   */
  claim(id: Uint8Array, offset: number, height: number, position: number): boolean {
    if ((this.count + 1) * 4 > this.heights.length * 3) this.grow();
    const a = read32(id, offset);
    const b = read32(id, offset + 4);
    const heights = this.heights;
    let s = a & this.mask;
    for (; heights[s] !== 0; s = (s + 1) & this.mask) {
      if (this.keyA[s] === a && this.keyB[s] === b && this.confirm(heights[s]!, this.positions[s]!, id.subarray(offset, offset + TX_ID_SIZE))) return false;
    }
    this.keyA[s] = a;
    this.keyB[s] = b;
    heights[s] = height;
    this.positions[s] = position;
    this.count++;
    return true;
  }

  /** Records `id` at (height ≥ 1, position). The caller knows it is not in the table yet. */
  add(id: Uint8Array, offset: number, height: number, position: number): void {
    if ((this.count + 1) * 4 > this.heights.length * 3) this.grow();
    this.place(read32(id, offset), read32(id, offset + 4), height, position);
    this.count++;
  }

  private place(a: number, b: number, height: number, position: number): void {
    const heights = this.heights;
    let s = a & this.mask;
    while (heights[s] !== 0) s = (s + 1) & this.mask;
    this.keyA[s] = a;
    this.keyB[s] = b;
    heights[s] = height;
    this.positions[s] = position;
  }

  private grow(): void {
    const { keyA, keyB, heights, positions } = this;
    const cap = heights.length * 2;
    this.mask = cap - 1;
    this.keyA = new Uint32Array(cap);
    this.keyB = new Uint32Array(cap);
    this.heights = new Uint32Array(cap);
    this.positions = new Uint32Array(cap);
    for (let s = 0; s < heights.length; s++) if (heights[s] !== 0) this.place(keyA[s]!, keyB[s]!, heights[s]!, positions[s]!);
  }
}

function read32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) >>> 0;
}

/** Whether `ids[position]` (32-byte ids, concatenated) is `id`. */
export function idAt(ids: Uint8Array, position: number, id: Uint8Array): boolean {
  const o = position * TX_ID_SIZE;
  if (o + TX_ID_SIZE > ids.length) return false;
  for (let k = 0; k < TX_ID_SIZE; k++) if (ids[o + k] !== id[k]) return false;
  return true;
}
