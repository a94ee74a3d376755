import { hash } from 'node:crypto';
import { writeU53 } from '../tx/codec.js';

/**
 * The state contracts read and write, behind an interface the ledger will back with LMDB: code
 * by hash, contract records, per-contract key-value storage and balances (accounts and
 * contracts share one balance space, both addressed by 32 bytes). Execution never writes to it
 * directly: it writes into a StateOverlay, which is committed into its parent or dropped.
 */
export interface ContractRecord {
  codeHash: Buffer;
  deployer: Buffer;
}

export interface ContractStateReader {
  getCode(codeHash: Uint8Array): Uint8Array | undefined;
  getContract(address: Uint8Array): ContractRecord | undefined;
  getStorage(address: Uint8Array, key: Uint8Array): Uint8Array | undefined;
  getBalance(account: Uint8Array): number;
}

/**
 * A reader keyed the way overlays key (byteKey, storageKey): an overlay over it hands it the key
 * it already made instead of the reader making it again.
 */
export interface KeyedStateReader extends ContractStateReader {
  codeAt(k: string, codeHash: Uint8Array): Uint8Array | undefined;
  contractAt(k: string, address: Uint8Array): ContractRecord | undefined;
  storageAt(k: string, address: Uint8Array, key: Uint8Array): Uint8Array | undefined;
  balanceAt(k: string, account: Uint8Array): number;
}

function isKeyed(r: ContractStateReader): r is KeyedStateReader {
  return typeof (r as Partial<KeyedStateReader>).storageAt === 'function';
}

/** Everything one overlay changed, in the order-free form the ledger persists (and hashes into its root). */
export interface StateWrites {
  code: Map<string, Uint8Array>;
  contracts: Map<string, ContractRecord>;
  /** contract hex -> key hex -> value, or null for a removed key. */
  storage: Map<string, Map<string, Uint8Array | null>>;
  balances: Map<string, number>;
}

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

const CONTRACT_ADDRESS_DOMAIN = Buffer.from('hotledger/contract/v1\0', 'latin1');

/** Contract address = SHA-256(domain ‖ deployer ‖ u64 LE nonce of the deploy transaction). */
export function contractAddress(deployer: Uint8Array, nonce: number): Buffer {
  const n = Buffer.alloc(8);
  writeU53(n, 0, nonce);
  return hash('sha256', Buffer.concat([CONTRACT_ADDRESS_DOMAIN, deployer, n]), 'buffer');
}

export function codeHash(code: Uint8Array): Buffer {
  return hash('sha256', code, 'buffer');
}

/**
 * What Buffer#toString('latin1') calls, taken directly: it accepts any Uint8Array, so a key needs
 * no Buffer made around the bytes first (map keys are made several times per contract call).
 */
const latin1Slice = (Buffer.prototype as unknown as { latin1Slice?: (this: Uint8Array, start: number, end: number) => string }).latin1Slice;

/**
 * Map key of a 32-byte address or hash: latin1, one character per byte (half the length of hex,
 * and cheaper to make). An address is fixed-size, so address ‖ storage key is unambiguous.
 */
export const byteKey: (b: Uint8Array) => string = latin1Slice
  ? (b) => latin1Slice.call(b, 0, b.length)
  : (b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
const fromByteKey = (k: string): Buffer => Buffer.from(k, 'latin1');

const keyScratch = Buffer.allocUnsafe(1024);
/**
 * Map key of a storage entry: byteKey(address ‖ key), made as one flat string (two strings
 * concatenated would be flattened again by every map lookup).
 */
export function storageKey(address: Uint8Array, key: Uint8Array): string {
  const n = 32 + key.length;
  const b = n <= keyScratch.length ? keyScratch : Buffer.allocUnsafe(n);
  b.set(address.subarray(0, 32), 0);
  b.set(key, 32);
  return latin1Slice ? latin1Slice.call(b, 0, n) : b.toString('latin1', 0, n);
}
const hexOfKey = (k: string): string => fromByteKey(k).toString('hex');

/**
 * A write buffer over a parent: reads see this overlay's own writes first. `commit()` moves the
 * writes into the parent overlay (a call that succeeded), dropping the overlay discards them (a
 * call that ran out of gas, trapped or aborted).
 *
 * Keys are computed once per access (byteKey) and the chain of overlays is walked with it, so a
 * read under a call's overlay, the block's overlay and the reader costs one key, not one per level.
 */
export class StateOverlay implements ContractStateReader {
  private code = new Map<string, Uint8Array>();
  private contracts = new Map<string, ContractRecord>();
  /** storageKey(address, key) -> value, or null for a removed key. */
  private storage = new Map<string, Uint8Array | null>();
  private balances = new Map<string, number>();
  /** The first ancestor that is not an overlay: what a read falls through to. */
  private readonly reader: ContractStateReader;
  private readonly keyed: KeyedStateReader | undefined;

  constructor(private readonly parent: ContractStateReader) {
    this.reader = parent instanceof StateOverlay ? parent.reader : parent;
    this.keyed = isKeyed(this.reader) ? this.reader : undefined;
  }

  getCode(h: Uint8Array): Uint8Array | undefined {
    const k = byteKey(h);
    for (let o: StateOverlay | undefined = this; o; o = o.parentOverlay()) {
      const v = o.code.get(k);
      if (v) return v;
    }
    return this.keyed ? this.keyed.codeAt(k, h) : this.reader.getCode(h);
  }
  getContract(address: Uint8Array): ContractRecord | undefined {
    const k = byteKey(address);
    for (let o: StateOverlay | undefined = this; o; o = o.parentOverlay()) {
      const v = o.contracts.get(k);
      if (v) return v;
    }
    return this.keyed ? this.keyed.contractAt(k, address) : this.reader.getContract(address);
  }
  getStorage(address: Uint8Array, key: Uint8Array): Uint8Array | undefined {
    const k = storageKey(address, key);
    for (let o: StateOverlay | undefined = this; o; o = o.parentOverlay()) {
      const v = o.storage.get(k);
      if (v === null) return undefined;
      if (v) return v;
    }
    return this.keyed ? this.keyed.storageAt(k, address, key) : this.reader.getStorage(address, key);
  }
  getBalance(account: Uint8Array): number {
    return this.balanceOf(byteKey(account), account);
  }
  private balanceOf(k: string, account: Uint8Array): number {
    for (let o: StateOverlay | undefined = this; o; o = o.parentOverlay()) {
      const v = o.balances.get(k);
      if (v !== undefined) return v;
    }
    return this.keyed ? this.keyed.balanceAt(k, account) : this.reader.getBalance(account);
  }
  private parentOverlay(): StateOverlay | undefined {
    return this.parent instanceof StateOverlay ? this.parent : undefined;
  }

  putCode(code: Uint8Array): Buffer {
    const h = codeHash(code);
    if (!this.getCode(h)) this.code.set(byteKey(h), Uint8Array.from(code));
    return h;
  }
  putContract(address: Uint8Array, record: ContractRecord): void {
    this.contracts.set(byteKey(address), record);
  }
  putStorage(address: Uint8Array, key: Uint8Array, value: Uint8Array | null): void {
    this.storage.set(storageKey(address, key), value === null ? null : Uint8Array.from(value));
  }
  setBalance(account: Uint8Array, balance: number): void {
    this.setBalanceOf(byteKey(account), balance);
  }
  private setBalanceOf(k: string, balance: number): void {
    if (!Number.isSafeInteger(balance) || balance < 0) throw new RangeError(`balance out of range: ${balance}`);
    this.balances.set(k, balance);
  }
  /** Moves `amount` between two balances; false (nothing changed) when `from` holds less. */
  move(from: Uint8Array, to: Uint8Array, amount: number): boolean {
    const fk = byteKey(from);
    const fb = this.balanceOf(fk, from);
    if (fb < amount) return false;
    this.setBalanceOf(fk, fb - amount);
    const tk = byteKey(to);
    this.setBalanceOf(tk, this.balanceOf(tk, to) + amount);
    return true;
  }

  /** The writes of this overlay alone, keyed by hex (a copy: tools and tests; the lane uses the accessors below). */
  writes(): StateWrites {
    const w: StateWrites = { code: new Map(), contracts: new Map(), storage: new Map(), balances: new Map() };
    for (const [h, c] of this.code) w.code.set(hexOfKey(h), c);
    for (const [a, r] of this.contracts) w.contracts.set(hexOfKey(a), r);
    for (const [k, v] of this.storage) {
      const a = hexOfKey(k.slice(0, 32));
      let m = w.storage.get(a);
      if (!m) w.storage.set(a, (m = new Map()));
      m.set(hexOfKey(k.slice(32)), v);
    }
    for (const [a, b] of this.balances) w.balances.set(hexOfKey(a), b);
    return w;
  }

  /** Balances this overlay wrote, by byteKey (live: the lane removes native ones with dropBalance). */
  writtenBalances(): ReadonlyMap<string, number> {
    return this.balances;
  }
  dropBalance(k: string): void {
    this.balances.delete(k);
  }
  /** Code this overlay wrote: byteKey of the hash -> code. */
  writtenCode(): ReadonlyMap<string, Uint8Array> {
    return this.code;
  }
  /** Contract records this overlay wrote, by byteKey of the address. */
  writtenContracts(): ReadonlyMap<string, ContractRecord> {
    return this.contracts;
  }
  /** Storage this overlay wrote: storageKey(address, key) -> value, null for removed. */
  writtenStorage(): ReadonlyMap<string, Uint8Array | null> {
    return this.storage;
  }

  /** Applies this overlay's writes to its parent overlay and empties it. */
  commit(): void {
    if (!(this.parent instanceof StateOverlay)) throw new TypeError('commit() needs a parent overlay; persist writes() instead');
    const p = this.parent;
    for (const [h, c] of this.code) p.code.set(h, c);
    for (const [a, r] of this.contracts) p.contracts.set(a, r);
    for (const [k, v] of this.storage) p.storage.set(k, v);
    for (const [a, b] of this.balances) p.balances.set(a, b);
    this.code = new Map();
    this.contracts = new Map();
    this.storage = new Map();
    this.balances = new Map();
  }
}

/** In-memory state, for tests and tools; the ledger's LMDB store implements the same reader. */
export class MemoryContractState implements ContractStateReader {
  readonly code = new Map<string, Uint8Array>();
  readonly contracts = new Map<string, ContractRecord>();
  readonly storage = new Map<string, Map<string, Uint8Array>>();
  readonly balances = new Map<string, number>();

  getCode(h: Uint8Array): Uint8Array | undefined {
    return this.code.get(hex(h));
  }
  getContract(address: Uint8Array): ContractRecord | undefined {
    return this.contracts.get(hex(address));
  }
  getStorage(address: Uint8Array, key: Uint8Array): Uint8Array | undefined {
    return this.storage.get(hex(address))?.get(hex(key));
  }
  getBalance(account: Uint8Array): number {
    return this.balances.get(hex(account)) ?? 0;
  }
  credit(account: Uint8Array, amount: number): void {
    this.balances.set(hex(account), this.getBalance(account) + amount);
  }
  /** Persists what a top-level overlay collected (a block's contract transactions). */
  apply(w: StateWrites): void {
    for (const [h, c] of w.code) this.code.set(h, c);
    for (const [a, r] of w.contracts) this.contracts.set(a, r);
    mergeStorageWrites(this.storage, w.storage);
    for (const [a, b] of w.balances) this.balances.set(a, b);
  }
}

/**
 * Applies storage writes (contract -> key -> value, null = removed) to an in-memory store of the
 * same shape; a contract left with no key is dropped. The one merge of the in-memory states.
 */
export function mergeStorageWrites(into: Map<string, Map<string, Uint8Array>>, writes: ReadonlyMap<string, ReadonlyMap<string, Uint8Array | null>>): void {
  for (const [a, m] of writes) {
    let sm = into.get(a);
    if (!sm) into.set(a, (sm = new Map()));
    for (const [k, v] of m) {
      if (v === null) sm.delete(k);
      else sm.set(k, v);
    }
    if (sm.size === 0) into.delete(a);
  }
}
