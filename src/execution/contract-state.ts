import type { StoredContract } from '../storage/contract-records.js';
import { mergeStorageWrites } from '../contracts/state.js';

/** Where committed contract state is read from: the LMDB store, or memory (replay, tests). */
export interface ContractSource {
  getContractCode(codeHash: Uint8Array): Uint8Array | undefined;
  getContract(address: Uint8Array): StoredContract | undefined;
  getContractStorage(address: Uint8Array, key: Uint8Array): Uint8Array | undefined;
}

/** What one block's contract lane changed, keyed by hex: the records are whole (balance included). */
export interface ContractBlockWrites {
  /** code hash -> code (new code only). */
  code: Map<string, Uint8Array>;
  /** address -> the record after the block. */
  contracts: Map<string, StoredContract>;
  /** address -> key -> value after the block, or null for a removed key. */
  storage: Map<string, Map<string, Uint8Array | null>>;
}

export function emptyContractWrites(): ContractBlockWrites {
  return { code: new Map(), contracts: new Map(), storage: new Map() };
}

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/**
 * Contract state as of the end of the last executed block. Block n+1 executes while n commits,
 * so the writes of blocks not yet visible in LMDB are kept here as layers (newest first wins)
 * and dropped once their block is visible, the same pinning AccountState does for accounts.
 * With a memory source (replay), a visible layer is folded into the source instead.
 */
export class ContractStateView implements ContractSource {
  private layers: { height: number; writes: ContractBlockWrites }[] = [];

  constructor(private readonly source: ContractSource & { absorb?(w: ContractBlockWrites): void }) {}

  getContractCode(codeHash: Uint8Array): Uint8Array | undefined {
    const k = hex(codeHash);
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const v = this.layers[i]!.writes.code.get(k);
      if (v) return v;
    }
    return this.source.getContractCode(codeHash);
  }

  getContract(address: Uint8Array): StoredContract | undefined {
    const k = hex(address);
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const v = this.layers[i]!.writes.contracts.get(k);
      if (v) return v;
    }
    return this.source.getContract(address);
  }

  getContractStorage(address: Uint8Array, key: Uint8Array): Uint8Array | undefined {
    const a = hex(address);
    const k = hex(key);
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const v = this.layers[i]!.writes.storage.get(a)?.get(k);
      if (v === null) return undefined;
      if (v) return v;
    }
    return this.source.getContractStorage(address, key);
  }

  /** The writes of executed block `height`, readable until its block is visible in the source. */
  stage(height: number, writes: ContractBlockWrites): void {
    const last = this.layers[this.layers.length - 1];
    if (last && last.height >= height) throw new Error(`contract writes of block ${height} staged after block ${last.height}`);
    this.layers.push({ height, writes });
  }

  /** Block `height` (and every one before it) is visible in the source. */
  visible(height: number): void {
    while (this.layers.length > 0 && this.layers[0]!.height <= height) {
      const l = this.layers.shift()!;
      this.source.absorb?.(l.writes);
    }
  }

  /** Layers not yet visible (tests; a healthy ledger holds at most a couple). */
  get pendingBlocks(): number {
    return this.layers.length;
  }
}

/** Contract state in memory: the replay's source, and a test's. */
export class MemoryContractSource implements ContractSource {
  readonly code = new Map<string, Uint8Array>();
  readonly contracts = new Map<string, StoredContract>();
  readonly storage = new Map<string, Map<string, Uint8Array>>();

  getContractCode(codeHash: Uint8Array): Uint8Array | undefined {
    return this.code.get(hex(codeHash));
  }
  getContract(address: Uint8Array): StoredContract | undefined {
    return this.contracts.get(hex(address));
  }
  getContractStorage(address: Uint8Array, key: Uint8Array): Uint8Array | undefined {
    return this.storage.get(hex(address))?.get(hex(key));
  }
  absorb(w: ContractBlockWrites): void {
    for (const [h, c] of w.code) this.code.set(h, c);
    for (const [a, r] of w.contracts) this.contracts.set(a, r);
    mergeStorageWrites(this.storage, w.storage);
  }
}
