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

function emptyWrites(): StateWrites {
  return { code: new Map(), contracts: new Map(), storage: new Map(), balances: new Map() };
}

/**
 * A write buffer over a parent: reads see this overlay's own writes first. `commit()` moves the
 * writes into the parent overlay (a call that succeeded), dropping the overlay discards them (a
 * call that ran out of gas, trapped or aborted).
 */
export class StateOverlay implements ContractStateReader {
  private w = emptyWrites();
  constructor(private readonly parent: ContractStateReader) {}

  getCode(h: Uint8Array): Uint8Array | undefined {
    return this.w.code.get(hex(h)) ?? this.parent.getCode(h);
  }
  getContract(address: Uint8Array): ContractRecord | undefined {
    return this.w.contracts.get(hex(address)) ?? this.parent.getContract(address);
  }
  getStorage(address: Uint8Array, key: Uint8Array): Uint8Array | undefined {
    const v = this.w.storage.get(hex(address))?.get(hex(key));
    if (v === null) return undefined;
    return v ?? this.parent.getStorage(address, key);
  }
  getBalance(account: Uint8Array): number {
    return this.w.balances.get(hex(account)) ?? this.parent.getBalance(account);
  }

  putCode(code: Uint8Array): Buffer {
    const h = codeHash(code);
    if (!this.getCode(h)) this.w.code.set(h.toString('hex'), Uint8Array.from(code));
    return h;
  }
  putContract(address: Uint8Array, record: ContractRecord): void {
    this.w.contracts.set(hex(address), record);
  }
  putStorage(address: Uint8Array, key: Uint8Array, value: Uint8Array | null): void {
    const a = hex(address);
    let m = this.w.storage.get(a);
    if (!m) this.w.storage.set(a, (m = new Map()));
    m.set(hex(key), value === null ? null : Uint8Array.from(value));
  }
  setBalance(account: Uint8Array, balance: number): void {
    if (!Number.isSafeInteger(balance) || balance < 0) throw new RangeError(`balance out of range: ${balance}`);
    this.w.balances.set(hex(account), balance);
  }
  /** Moves `amount` between two balances; false (nothing changed) when `from` holds less. */
  move(from: Uint8Array, to: Uint8Array, amount: number): boolean {
    const fb = this.getBalance(from);
    if (fb < amount) return false;
    this.setBalance(from, fb - amount);
    this.setBalance(to, this.getBalance(to) + amount);
    return true;
  }

  /** The writes of this overlay alone. */
  writes(): StateWrites {
    return this.w;
  }

  /** Applies this overlay's writes to its parent overlay and empties it. */
  commit(): void {
    if (!(this.parent instanceof StateOverlay)) throw new TypeError('commit() needs a parent overlay; persist writes() instead');
    const p = this.parent;
    for (const [h, c] of this.w.code) p.w.code.set(h, c);
    for (const [a, r] of this.w.contracts) p.w.contracts.set(a, r);
    for (const [a, m] of this.w.storage) {
      let pm = p.w.storage.get(a);
      if (!pm) p.w.storage.set(a, (pm = new Map()));
      for (const [k, v] of m) pm.set(k, v);
    }
    for (const [a, b] of this.w.balances) p.w.balances.set(a, b);
    this.w = emptyWrites();
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
    for (const [a, m] of w.storage) {
      let sm = this.storage.get(a);
      if (!sm) this.storage.set(a, (sm = new Map()));
      for (const [k, v] of m) {
        if (v === null) sm.delete(k);
        else sm.set(k, v);
      }
    }
    for (const [a, b] of w.balances) this.balances.set(a, b);
  }
}
