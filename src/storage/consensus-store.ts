import { open, type Database, type RootDatabase } from 'lmdb';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { HotledgerError } from '../errors.js';
import { plain } from './records.js';
import { checkQuota, usedBytes, writeError } from './storage-errors.js';
import { SafetyFile } from './safety-file.js';

/**
 * A validator's consensus records (safety data, high TC, uncommitted blocks, committed root) in an
 * LMDB environment of their own, `<dataDir>/consensus`. Every vote and proposal waits for these
 * writes to be durable; in the ledger's environment they queued behind block writes of thousands
 * of puts and their flush (10 ms mean under load, measured), in a small one they take well under
 * a millisecond. Atomicity across the two environments is not needed: the orderer's restart logic
 * reconciles the committed root with the ledger's own round (see ConsensusOrderer).
 *
 * The committed consensus chain (every committed block with its QC, by consensus height) is kept
 * here too, for peers that fell behind further than their peers' memory (forward sync). It is
 * written in the same transaction as the committed root, so the stored chain has no holes. Its
 * size does not slow votes: an LMDB commit costs the pages it dirties, not the size of the file.
 *
 * The chain is pruned to the newest `retainBlocks` heights (`consensus.storeRetainBlocks`): each
 * write that adds committed blocks deletes the oldest ones in the same transaction, at most
 * PRUNE_PER_WRITE of them, so a write's cost stays bounded even when a large old store is first
 * opened with a small retention (it then shrinks over the following commits). Freed pages are
 * reused by LMDB, so the file stops growing once the window is full. A height below the window is
 * answered as missing (the asking peer moves on to the next validator) and logged.
 */
export interface ConsensusStoreOptions {
  /** Committed consensus blocks kept, newest first. Default 1,000,000. */
  retainBlocks?: number;
  /** Told (rate-limited by the store) when a peer asks for a pruned height. */
  onPrunedRead?: (height: number, lowestKept: number) => void;
}

/** Old heights deleted per write at most: bounded work per commit. */
export const PRUNE_PER_WRITE = 256;
const PRUNED_READ_LOG_MS = 10_000;

export class ConsensusStore {
  private readonly root: RootDatabase;
  private readonly meta: Database<unknown, string>;
  private readonly chain: Database<Buffer, number>;
  /** Vote-critical records (putSafety): a file of their own, one fdatasync per write (see SafetyFile). */
  private readonly safety: SafetyFile;
  private closed = false;
  private readonly path: string;
  private readonly limitBytes: number;
  private readonly retainBlocks: number;
  private readonly onPrunedRead: ((height: number, lowestKept: number) => void) | undefined;
  /** Lowest and highest stored committed heights (0 = none stored). */
  private lowest = 0;
  private highest = 0;
  private lastPrunedReadLog = 0;
  /** The first failed write; every later write is refused with it (a later commit would leave a hole). */
  private failure: HotledgerError | undefined;

  /**
   * `mapSizeMb` bounds the file (LMDB only reserves address space): the committed chain grows by
   * about 2 KB/s on an idle 4-validator cluster (a heartbeat block every 250 ms), so the node
   * passes `storage.mapSizeMb`, as for the ledger.
   */
  constructor(dataDir: string, mapSizeMb = 1024, opts: ConsensusStoreOptions = {}) {
    const path = join(dataDir, 'consensus');
    mkdirSync(path, { recursive: true });
    this.path = path;
    this.limitBytes = mapSizeMb * 1024 * 1024;
    this.retainBlocks = opts.retainBlocks ?? 1_000_000;
    this.onPrunedRead = opts.onPrunedRead;
    this.root = open({ path, mapSize: mapSizeMb * 1024 * 1024, maxDbs: 4, compression: false });
    this.meta = this.root.openDB<unknown, string>({ name: 'meta', encoding: 'msgpack' });
    this.chain = this.root.openDB<Buffer, number>({ name: 'committed-chain', keyEncoding: 'uint32', encoding: 'binary' });
    this.safety = new SafetyFile(join(path, 'safety.bin'));
    for (const k of this.chain.getKeys({ limit: 1 })) this.lowest = k;
    for (const k of this.chain.getKeys({ limit: 1, reverse: true })) this.highest = k;
  }

  /** The committed consensus block at this consensus height (encodeCommittedBlock bytes); undefined if pruned or unknown. */
  getCommittedBlock(height: number): Buffer | undefined {
    const b = this.chain.get(height);
    if (b === undefined && height >= 1 && height < this.lowest && this.onPrunedRead) {
      const now = Date.now();
      if (now - this.lastPrunedReadLog >= PRUNED_READ_LOG_MS) {
        this.lastPrunedReadLog = now;
        this.onPrunedRead(height, this.lowest);
      }
    }
    return b;
  }

  /** The stored committed heights, [lowest, highest] (both 0 when none). */
  get committedRange(): { lowest: number; highest: number } {
    return { lowest: this.lowest, highest: this.highest };
  }

  /** Bytes of the environment's file in use (its high-water mark): what the pruning keeps flat. */
  get usedBytes(): number {
    return usedBytes(this.root);
  }

  /** The write failure that stopped this store, if any (STORAGE_FULL for a full disk or map). */
  get writeFailure(): HotledgerError | undefined {
    return this.failure;
  }

  /** A record of putSafety shadows one of the same key written by putDurable (data dirs from before the safety file). */
  get<T>(key: string): T | undefined {
    if (this.safety.has(key)) return this.safety.get(key) as T | undefined;
    return this.meta.get(key) as T | undefined;
  }

  /** True before the first write: a data dir from before this store kept the records in the ledger's meta. */
  get empty(): boolean {
    return this.meta.getKeysCount() === 0 && !this.safety.hasRecord;
  }

  /**
   * Writes the records every vote and proposal waits for (safety data, high TC, uncommitted
   * blocks) to the safety file: merged with what it holds, durable when this resolves. The
   * caller writes one at a time. Cheaper than putDurable by an LMDB commit's second sync and by
   * not queueing behind the committed-root writes.
   */
  async putSafety(entries: Record<string, unknown>): Promise<void> {
    if (this.closed) throw new HotledgerError('STORAGE_CLOSED', 'consensus store is closed');
    if (this.failure) throw this.failure;
    try {
      await this.safety.put(entries);
    } catch (e) {
      throw (this.failure ??= await writeError(e, this.path));
    }
  }

  /**
   * Writes all entries (and committed blocks, if any) in one transaction: lmdb-js commits the writes
   * of one event turn together. Resolves once it is on disk.
   */
  async putDurable(entries: Record<string, unknown>, committed: readonly { height: number; bytes: Uint8Array }[] = []): Promise<void> {
    if (this.closed) throw new HotledgerError('STORAGE_CLOSED', 'consensus store is closed');
    if (this.failure) throw this.failure;
    try {
      checkQuota(this.root, this.path, this.limitBytes, 2 * (approxBytes(entries) + approxBytes(committed.map((b) => b.bytes))) + 256 * 1024);
    } catch (e) {
      throw (this.failure = e as HotledgerError);
    }
    let last: Promise<unknown> = Promise.resolve();
    for (const b of committed) {
      last = this.chain.put(b.height, plain(b.bytes));
      if (this.lowest === 0 || b.height < this.lowest) this.lowest = b.height;
      if (b.height > this.highest) this.highest = b.height;
    }
    last = this.prune() ?? last;
    for (const [k, v] of Object.entries(entries)) last = this.meta.put(k, v);
    try {
      await last;
      await this.root.flushed;
    } catch (e) {
      throw (this.failure ??= await writeError(e, this.path));
    }
  }

  /** Deletes the oldest heights beyond the window, in the caller's write (same event turn). */
  private prune(): Promise<unknown> | undefined {
    const floor = this.highest - this.retainBlocks + 1;
    let last: Promise<unknown> | undefined;
    let n = 0;
    while (this.lowest > 0 && this.lowest < floor && n < PRUNE_PER_WRITE) {
      last = this.chain.remove(this.lowest);
      this.lowest++;
      n++;
    }
    return last;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.resolve(this.root.flushed).catch(() => undefined); // a failed commit was reported by its write
    await this.root.close();
    await this.safety.close();
  }
}

/** Rough size of what a write stores: byte arrays and strings counted, anything else a little. */
function approxBytes(v: unknown): number {
  if (v instanceof Uint8Array) return v.length;
  if (typeof v === 'string') return v.length * 3;
  if (Array.isArray(v)) return v.reduce((s: number, x) => s + approxBytes(x) + 8, 0);
  if (v && typeof v === 'object') return Object.entries(v).reduce((s, [k, x]) => s + k.length + approxBytes(x) + 8, 0);
  return 16;
}
