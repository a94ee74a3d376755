import { accountLeaf, addInto, subInto } from './state-root.js';

/** One account as execution sees it. `leaf` is the state-root leaf of the value last persisted. */
export interface Account {
  key: Buffer;
  balance: number;
  nonce: number;
  leaf: Uint32Array | null;
  /** Height of the last block that changed it; entries of blocks not yet visible in LMDB are pinned. */
  height: number;
  /** Height of the block in which a tx of this sender was last rejected (nonce-gap detection). */
  rejectedAt: number;
  /** Height at which this entry was last added to the block's touched list. */
  touchedAt: number;
  /** The next cached account whose key hashes to the same number (rare; see AccountState). */
  next: Account | undefined;
}

export interface AccountSource {
  /** `leaf`, when given, is the stored state-root leaf of exactly this balance and nonce. */
  getAccount(publicKey: Uint8Array): { balance: number; nonce: number; leaf?: Uint32Array | undefined } | undefined;
}

/** Rough bytes one cached account costs on the V8 heap (object, key buffer, leaf, Map slot). */
export const ACCOUNT_CACHE_ENTRY_BYTES = 320;

/**
 * The account cache in front of LMDB (`storage.cacheSizeMb`) and the running state root. Only the
 * ledger thread owns one. Eviction never drops an entry whose latest value is not yet visible in
 * LMDB, otherwise a re-read could resurrect an older balance.
 */
export class AccountState {
  /**
   * Keyed by a 30-bit number mixed from the key's first 8 bytes, colliding accounts chained through
   * `next`. A Map keyed by the key's latin1 string cost a string allocation and a 32-character hash
   * per look-up, ~1 µs of the ~4.5 µs a transfer cost the ledger thread (docs/decisions.md). The
   * mix is seeded per process so no one can aim many keys at one chain; iteration order, and with it
   * nothing a block computes, does not depend on it.
   */
  private readonly cache = new Map<number, Account>();
  private readonly seed = (Math.random() * 0x100000000) >>> 0;
  private count = 0;
  readonly root: Uint32Array;
  private visibleHeight = 0;
  hits = 0;
  misses = 0;

  constructor(
    private readonly source: AccountSource,
    root: Uint32Array,
    readonly capacity: number,
  ) {
    this.root = root;
  }

  static capacityFor(cacheSizeMb: number): number {
    return Math.max(1024, Math.floor((cacheSizeMb * 1024 * 1024) / ACCOUNT_CACHE_ENTRY_BYTES));
  }

  get size(): number {
    return this.count;
  }

  /** Cached accounts (all of them when the capacity is unbounded, as in a replay). */
  *entries(): IterableIterator<Account> {
    for (let a of this.cache.values()) for (; a; a = a.next!) yield a;
  }

  private hashOf(b: Uint8Array, o: number): number {
    const lo = (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16) | (b[o + 3]! << 24)) ^ this.seed;
    const hi = b[o + 4]! | (b[o + 5]! << 8) | (b[o + 6]! << 16) | (b[o + 7]! << 24);
    return (Math.imul(lo, 0x9e3779b1) ^ Math.imul(hi, 0x85ebca6b)) >>> 2;
  }

  /** The cached account whose key is `bytes[offset .. offset + 32]`. */
  private cached(h: number, bytes: Uint8Array, offset: number): Account | undefined {
    let a = this.cache.get(h);
    while (a && !sameKey(a.key, bytes, offset)) a = a.next;
    return a;
  }

  private insert(h: number, acc: Account): void {
    acc.next = this.cache.get(h);
    this.cache.set(h, acc);
    this.count++;
  }

  /** Looks the account with key `bytes[offset .. offset + 32]` up: the cache, else the store. */
  get(bytes: Uint8Array, offset = 0): Account | undefined {
    const h = this.hashOf(bytes, offset);
    const hit = this.cached(h, bytes, offset);
    if (hit) {
      this.hits++;
      return hit;
    }
    this.misses++;
    const keyBytes = bytes.subarray(offset, offset + 32);
    const rec = this.source.getAccount(keyBytes);
    if (!rec) return undefined;
    const acc: Account = { key: Buffer.from(keyBytes), balance: rec.balance, nonce: rec.nonce, leaf: null, height: 0, rejectedAt: -1, touchedAt: -1, next: undefined };
    acc.leaf = rec.leaf ?? accountLeaf(acc.key, acc.balance, acc.nonce);
    this.insert(h, acc);
    return acc;
  }

  getOrCreate(bytes: Uint8Array, offset = 0): Account {
    const existing = this.get(bytes, offset);
    if (existing) return existing;
    const acc: Account = { key: Buffer.from(bytes.subarray(offset, offset + 32)), balance: 0, nonce: 0, leaf: null, height: 0, rejectedAt: -1, touchedAt: -1, next: undefined };
    this.insert(this.hashOf(bytes, offset), acc);
    return acc;
  }

  /**
   * Folds the new values of touched accounts into `into` (the state root, or a shard's per-block
   * delta that the ledger adds to the root): O(touched).
   */
  commitLeaves(touched: readonly Account[], height: number, into: Uint32Array): void {
    for (const a of touched) {
      if (a.leaf) subInto(into, a.leaf);
      a.leaf = accountLeaf(a.key, a.balance, a.nonce);
      addInto(into, a.leaf);
      a.height = height;
    }
  }

  /** Called when a block's write is visible to readers: its entries may now be evicted. */
  markVisible(height: number): void {
    this.visibleHeight = height;
    this.evict();
  }

  private evict(): void {
    let excess = this.count - this.capacity;
    if (excess <= 0) return;
    // Map iterates in insertion order: oldest first. Pinned entries are re-inserted at the back.
    const pinned: [number, Account][] = [];
    for (const [h, head] of this.cache) {
      if (excess <= 0) break;
      this.cache.delete(h);
      let kept: Account | undefined;
      for (let a: Account | undefined = head; a; ) {
        const next: Account | undefined = a.next;
        if (a.height > this.visibleHeight) {
          a.next = kept;
          kept = a;
        } else {
          this.count--;
          excess--;
        }
        a = next;
      }
      if (kept) pinned.push([h, kept]);
    }
    for (const [h, a] of pinned) this.cache.set(h, a);
  }
}

function sameKey(key: Buffer, b: Uint8Array, o: number): boolean {
  for (let i = 0; i < 32; i++) if (key[i] !== b[o + i]) return false;
  return true;
}
