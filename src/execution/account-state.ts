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
  private readonly cache = new Map<string, Account>();
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
    return this.cache.size;
  }

  /** Cached accounts (all of them when the capacity is unbounded, as in a replay). */
  entries(): IterableIterator<Account> {
    return this.cache.values();
  }

  /**
   * Looks an account up by the latin1 string of its 32 key bytes (a cheap map key). The key bytes
   * are `bytes[offset .. offset + 32]`, sliced only on a cache miss.
   */
  get(keyStr: string, bytes: Uint8Array, offset = 0): Account | undefined {
    const hit = this.cache.get(keyStr);
    if (hit) {
      this.hits++;
      return hit;
    }
    this.misses++;
    const keyBytes = bytes.subarray(offset, offset + 32);
    const rec = this.source.getAccount(keyBytes);
    if (!rec) return undefined;
    const acc: Account = { key: Buffer.from(keyBytes), balance: rec.balance, nonce: rec.nonce, leaf: null, height: 0, rejectedAt: -1, touchedAt: -1 };
    acc.leaf = rec.leaf ?? accountLeaf(acc.key, acc.balance, acc.nonce);
    this.cache.set(keyStr, acc);
    return acc;
  }

  getOrCreate(keyStr: string, bytes: Uint8Array, offset = 0): Account {
    const existing = this.get(keyStr, bytes, offset);
    if (existing) return existing;
    const acc: Account = { key: Buffer.from(bytes.subarray(offset, offset + 32)), balance: 0, nonce: 0, leaf: null, height: 0, rejectedAt: -1, touchedAt: -1 };
    this.cache.set(keyStr, acc);
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
    let excess = this.cache.size - this.capacity;
    if (excess <= 0) return;
    // Map iterates in insertion order: oldest first. Pinned entries are re-inserted at the back.
    const pinned: [string, Account][] = [];
    for (const [k, a] of this.cache) {
      if (excess <= 0) break;
      this.cache.delete(k);
      if (a.height > this.visibleHeight) pinned.push([k, a]);
      else excess--;
    }
    for (const [k, a] of pinned) this.cache.set(k, a);
  }
}
