import { IF_EXISTS, open, type Database, type RootDatabase, type Transaction } from 'lmdb';
import { mkdirSync } from 'node:fs';
import { HotledgerError } from '../errors.js';
import { checkQuota, writeError } from './storage-errors.js';
import { TX_ID_SIZE } from '../tx/layout.js';
import { ownsIndexEntry } from '../execution/tx-finality.js';
import { decodeHeader, type BlockHeader } from '../chain/block-header.js';
import { ACCOUNT_RECORD_SIZE, decodeAccount, encodeAccount, plain, type AccountRecord, type TxLocation } from './records.js';
import { idAt, TxIdIndex } from './tx-id-index.js';
import { txId } from '../tx/codec.js';
import { TX_SIZE } from '../tx/layout.js';
import type { ContractBlockWrites } from '../execution/contract-state.js';
import type { ContractReceipt, StoredContract } from './contract-records.js';
import { type BlockReceipts, ContractStore, contractWriteBound } from './contract-store.js';

export interface ChainTip {
  height: number;
  hash: Buffer;
  stateRoot: Buffer;
}

export interface StoreOptions {
  path: string;
  mapSizeMb: number;
}

/** Everything one block changes, written as ONE LMDB transaction. */
export interface BlockWrite {
  header: BlockHeader;
  encodedHeader: Buffer;
  hash: Buffer;
  /** Concatenated transactions (TX_SIZE each). */
  payload: Uint8Array;
  /** Concatenated 32-byte tx ids, block order. */
  ids: Uint8Array;
  /** One byte per tx: 0 committed, else RejectCode. */
  statuses: Uint8Array;
  /** Accounts after the block, with their state-root leaves. */
  accounts: Iterable<{ key: Uint8Array; balance: number; nonce: number; leaf: Uint32Array | null }>;
  /** Extra metadata written in the same transaction (consensus safety data, QCs). */
  meta?: Record<string, unknown>;
  /** The ordered batches the block is made of, for serving them by digest (consensus sync). */
  batches?: readonly { digest: Uint8Array; count: number }[];
  /** What the block's contract lane changed (code, contract records, storage). */
  contracts?: ContractBlockWrites;
  /** Receipts of the block's included contract transactions, block order. */
  receipts?: BlockReceipts;
}

/** Where a batch sits in the chain: its block, its first position, its length. */
export interface BatchLocation {
  height: number;
  start: number;
  count: number;
}

/**
 * The node's LMDB environment. Named databases are all opened here at start (lmdb-js wants that),
 * and a block is written by issuing every put in one synchronous loop: lmdb-js commits all writes
 * of one event turn as a single transaction (eventTurnBatching), so a crash leaves the store at a
 * whole block. The write resolves only after `flushed`, i.e. when the block is durable.
 */
export class LedgerStore {
  readonly root: RootDatabase;
  readonly headers: Database<Buffer, number>;
  readonly payloads: Database<Buffer, number>;
  readonly results: Database<Buffer, number>;
  /**
   * Each block's tx ids in chunks of TX_ID_CHUNK, keyed by (height, chunk) big-endian so every
   * block appends at the end of the B-tree: a chunk is its ids (32 bytes each, block order) then
   * their statuses (one byte each). Chunks keep a look-up's read small (~8 KB, not a block's).
   */
  readonly txIds: Database<Buffer, Buffer>;
  readonly accounts: Database<Buffer, Buffer>;
  readonly meta: Database<unknown, string>;
  readonly batchIndex: Database<Buffer, Buffer>;
  /** The contract tables (code, records, storage, receipts), in this environment and its snapshot. */
  readonly contracts: ContractStore;
  // The contract tables under their names from before ContractStore (tests read and damage them).
  readonly contractCode: ContractStore['code'];
  readonly contractStorage: ContractStore['storage'];
  readonly receipts: ContractStore['receipts'];
  private closed = false;
  /**
   * The first failed write. Every later write is refused with it: LMDB would commit a later block
   * after a failed one (seen on a full tmpfs: small writes succeed again), leaving a hole below
   * the tip, and the ledger's memory already holds the failed block. A restart reloads the last
   * whole block from disk.
   */
  private failure: HotledgerError | undefined;
  private readonly path: string;
  private readonly limitBytes: number;
  /** When set, every read goes through this snapshot (see pinSnapshot). */
  private snapshot: Transaction | undefined;
  /** Ids that own their outcome, in memory (see tx-id-index.ts); built on first use. */
  private idIndex: TxIdIndex | undefined;
  /** The last height whose ids are in `idIndex`. */
  private indexedHeight = 0;
  /** Set when reads may see new blocks: the next look-up indexes them first. */
  private indexStale = false;
  /**
   * Blocks the ledger thread indexed ahead of their visibility in LMDB (block n+1 executes while n
   * commits): their ids, and their statuses once executed.
   */
  private readonly pending = new Map<number, { ids: Uint8Array; statuses: Uint8Array | undefined }>();
  private confirmedStatus: number | undefined;
  private readonly chunkKeyScratch = Buffer.alloc(8);

  constructor(opts: StoreOptions) {
    mkdirSync(opts.path, { recursive: true });
    this.path = opts.path;
    this.limitBytes = opts.mapSizeMb * 1024 * 1024;
    this.root = open({ path: opts.path, mapSize: opts.mapSizeMb * 1024 * 1024, maxDbs: 16, compression: false });
    const bin = (name: string) => this.root.openDB<Buffer, number>({ name, keyEncoding: 'uint32', encoding: 'binary' });
    this.headers = bin('headers');
    this.payloads = bin('payloads');
    this.results = bin('results');
    this.txIds = this.root.openDB<Buffer, Buffer>({ name: 'tx-ids', keyEncoding: 'binary', encoding: 'binary' });
    this.accounts = this.root.openDB<Buffer, Buffer>({ name: 'accounts', keyEncoding: 'binary', encoding: 'binary' });
    this.meta = this.root.openDB<unknown, string>({ name: 'meta', encoding: 'msgpack' });
    this.batchIndex = this.root.openDB<Buffer, Buffer>({ name: 'batch-index', keyEncoding: 'binary', encoding: 'binary' });
    this.contracts = new ContractStore(this.root, this.meta, () => this.readOpts());
    ({ code: this.contractCode, storage: this.contractStorage, receipts: this.receipts } = this.contracts);
  }

  // The contract reads as before the tables moved to ContractStore (execution's ContractSource, replay, the node).
  getContract(address: Uint8Array): StoredContract | undefined {
    return this.contracts.getContract(address);
  }
  getContractCode(codeHash: Uint8Array): Buffer | undefined {
    return this.contracts.getContractCode(codeHash);
  }
  getContractStorage(address: Uint8Array, key: Uint8Array): Buffer | undefined {
    return this.contracts.getContractStorage(address, key);
  }
  getReceipt(txId: Uint8Array): ContractReceipt | undefined {
    return this.contracts.getReceipt(txId);
  }
  getBlockReceipts(height: number): { index: number; txId: Buffer; receipt: ContractReceipt }[] {
    return this.contracts.getBlockReceipts(height);
  }
  allContracts(): IterableIterator<{ address: Buffer; contract: StoredContract }> {
    return this.contracts.allContracts();
  }
  contractStorageCount(): number {
    return this.contracts.contractStorageCount();
  }
  feesBurned(): number {
    return this.contracts.feesBurned();
  }

  tip(): ChainTip | undefined {
    const t = this.meta.get('tip', this.readOpts()) as { height: number; hash: Uint8Array; stateRoot: Uint8Array } | undefined;
    if (!t) return undefined;
    return { height: t.height, hash: Buffer.from(t.hash), stateRoot: Buffer.from(t.stateRoot) };
  }

  getAccount(publicKey: Uint8Array): AccountRecord | undefined {
    const v = this.accounts.get(Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.length), this.readOpts());
    if (!v) return undefined;
    if (v.length !== ACCOUNT_RECORD_SIZE) throw new HotledgerError('STORAGE_CORRUPT', 'account record has the wrong size');
    return decodeAccount(v);
  }

  getHeader(height: number): BlockHeader | undefined {
    const v = this.headers.get(height, this.readOpts());
    return v ? decodeHeader(v) : undefined;
  }

  getHeaderBytes(height: number): Buffer | undefined {
    return this.headers.get(height, this.readOpts());
  }

  getPayload(height: number): Buffer | undefined {
    return this.payloads.get(height, this.readOpts());
  }

  getResults(height: number): Buffer | undefined {
    return this.results.get(height, this.readOpts());
  }

  /** Block `height`'s tx ids as stored (32 bytes each, block order), or undefined if none are. */
  getTxIds(height: number): Buffer | undefined {
    const parts: Buffer[] = [];
    for (const { value } of this.txIds.getRange({ start: chunkKey(height, 0), end: chunkKey(height + 1, 0), ...this.readOpts() })) {
      parts.push(value.subarray(0, (value.length / (TX_ID_SIZE + 1)) * TX_ID_SIZE));
    }
    return parts.length > 0 ? Buffer.concat(parts) : undefined;
  }

  /** Where the transaction with this id owns its outcome (the first copy the chain holds). */
  getTxLocation(id: Uint8Array): TxLocation | undefined {
    const index = this.finalIds();
    this.confirmedStatus = undefined;
    const slot = index.find(id);
    if (slot < 0) return undefined;
    const height = index.heightAt(slot);
    const position = index.positionAt(slot);
    // Read by the confirmation of this very match: one chunk read per look-up.
    const status = this.confirmedStatus;
    if (status === undefined) throw new HotledgerError('STORAGE_CORRUPT', `block ${height} holds no result for tx ${position}`);
    return { height, position, status };
  }

  /** Whether the chain holds a transaction with this id (duplicate detection). */
  hasTx(id: Uint8Array): boolean {
    return this.finalIds().has(id);
  }

  /**
   * The in-memory id index, up to date with every block this thread can read (and with the blocks
   * the ledger thread registered ahead of visibility). The first call builds it from each block's
   * `tx-ids` table: ~N × 16-32 bytes of memory for N transactions (load between 3/8 and 3/4).
   */
  finalIds(): TxIdIndex {
    if (!this.idIndex) {
      this.idIndex = new TxIdIndex((h, p, id) => this.confirmId(h, p, id));
      this.indexStale = true;
    }
    if (this.indexStale) {
      this.indexStale = false;
      const tip = this.tip()?.height ?? 0;
      if (tip > this.indexedHeight) this.indexStored(this.idIndex, this.indexedHeight + 1, tip);
      this.indexedHeight = Math.max(this.indexedHeight, tip);
    }
    return this.idIndex;
  }

  /**
   * The ledger thread indexes block `height` itself, before it is written (markRepeats adds its
   * ids): it registers the ids here so the index can confirm matches against them until the block
   * is visible, and catch-up skips it.
   */
  beginBlock(height: number, ids: Uint8Array): TxIdIndex {
    const index = this.finalIds();
    this.pending.set(height, { ids, statuses: undefined });
    this.indexedHeight = height;
    return index;
  }

  /** The statuses of a registered block, once executed (getTxLocation of its ids). */
  blockExecuted(height: number, statuses: Uint8Array): void {
    const p = this.pending.get(height);
    if (p) p.statuses = statuses;
  }

  /** A registered block is visible in LMDB: its ids are read from there from now on. */
  blockVisible(height: number): void {
    this.pending.delete(height);
  }

  /** Adds the owning ids of stored blocks `from..to` to the index: one sequential scan. */
  private indexStored(index: TxIdIndex, from: number, to: number): void {
    for (const entry of this.txIds.getRange({ start: chunkKey(from, 0), end: chunkKey(to + 1, 0), ...this.readOpts() })) {
      // Copied: a confirmation read inside claim() may reuse lmdb's buffer under this value.
      const value = Buffer.from(entry.value);
      const h = entry.key.readUInt32BE(0);
      const first = entry.key.readUInt32BE(4) * TX_ID_CHUNK;
      const n = value.length / (TX_ID_SIZE + 1);
      for (let i = 0; i < n; i++) {
        if (ownsIndexEntry(value[n * TX_ID_SIZE + i]!)) index.claim(value, i * TX_ID_SIZE, h, first + i);
      }
    }
  }

  /**
   * Whether the id at (height, position) is `id`: from a registered block, else from LMDB. On a
   * match it leaves that position's status in `confirmedStatus` (undefined if not executed yet).
   */
  private confirmId(height: number, position: number, id: Uint8Array): boolean {
    const p = this.pending.get(height);
    if (p) {
      this.confirmedStatus = p.statuses?.[position];
      return idAt(p.ids, position, id);
    }
    this.chunkKeyScratch.writeUInt32BE(height, 0);
    this.chunkKeyScratch.writeUInt32BE(Math.floor(position / TX_ID_CHUNK), 4);
    const chunk = fastGet(this.txIds, this.chunkKeyScratch, this.readOpts());
    if (!chunk) return false;
    const n = chunk.length / (TX_ID_SIZE + 1);
    const i = position % TX_ID_CHUNK;
    if (i >= n || !idAt(chunk, i, id)) return false;
    this.confirmedStatus = chunk[n * TX_ID_SIZE + i];
    return true;
  }

  getBatchLocation(digest: Uint8Array): BatchLocation | undefined {
    const v = this.batchIndex.get(Buffer.from(digest.buffer, digest.byteOffset, digest.length), this.readOpts());
    if (v?.length !== 12) return undefined;
    return { height: v.readUInt32LE(0), start: v.readUInt32LE(4), count: v.readUInt32LE(8) };
  }

  getMeta<T>(key: string): T | undefined {
    return this.meta.get(key, this.readOpts()) as T | undefined;
  }

  /** Makes reads on this thread see commits made by the ledger thread. */
  refresh(): void {
    this.root.resetReadTxn();
    this.indexStale = true;
  }

  /**
   * Pins every later read to the database as it is now, until the next call. The node's query side
   * calls it only when a block is reported durable: lmdb makes a commit visible to readers before
   * it is flushed, and a client must never see a block (or a balance) that a power loss could undo.
   */
  pinSnapshot(): void {
    this.root.resetReadTxn();
    const next = this.root.useReadTransaction();
    this.snapshot?.done();
    this.snapshot = next;
    this.indexStale = true;
  }

  private readOpts(): { transaction: Transaction } | undefined {
    return this.snapshot ? { transaction: this.snapshot } : undefined;
  }

  /**
   * Issues every put of the block in one synchronous run (one LMDB transaction). `durable` resolves
   * once it is on disk and rejects with a typed error (STORAGE_FULL for a full disk or map) if it
   * was not committed; `visible` settles when the commit is over and never rejects (the outcome is
   * `durable`'s). Throws STORAGE_FULL before writing anything if the block might not fit in
   * `storage.mapSizeMb`, and the first failure's error for every write after it.
   */
  writeBlock(w: BlockWrite): { visible: Promise<unknown>; durable: Promise<void> } {
    if (this.closed) throw new HotledgerError('STORAGE_CLOSED', 'ledger store is closed');
    if (this.failure) throw this.failure;
    try {
      checkQuota(this.root, this.path, this.limitBytes, blockWriteBound(w));
    } catch (e) {
      throw (this.failure = e as HotledgerError);
    }
    const h = w.header.height;
    // Conditional on the parent's header being stored: if block h-1's commit failed (a full disk),
    // block h, already issued behind it, is not committed over the hole (LMDB would commit it).
    const committed = h === 0 ? this.issueBlock(w).then(() => true) : this.headers.ifVersion(h - 1, IF_EXISTS, () => this.issueBlock(w));
    const durable = committed.then(
      async (ok) => {
        // The parent's failure is latched by its own write and reported first (acks are in order).
        if (!ok) throw this.failure ?? new HotledgerError('INTERNAL', `block ${h} was not written: block ${h - 1} is not on disk`);
        await Promise.resolve(this.root.flushed).catch((e: unknown) => this.fail(e));
      },
      (e: unknown) => this.fail(e),
    );
    const visible = committed.then(
      () => undefined,
      () => undefined,
    );
    return { visible, durable };
  }

  /** Latches the typed error of a failed commit and throws it. */
  private async fail(e: unknown): Promise<never> {
    const err = await writeError(e, this.path);
    this.failure ??= err;
    throw err;
  }

  /** Every put of one block, in one synchronous run; returns the last put's promise. */
  private issueBlock(w: BlockWrite): Promise<unknown> {
    const h = w.header.height;
    this.headers.put(h, w.encodedHeader);
    this.payloads.put(h, plain(w.payload));
    this.results.put(h, plain(w.statuses));
    this.putTxIds(h, w.ids, w.statuses, w.header.txCount);
    for (const a of w.accounts) {
      this.accounts.put(plain(a.key), encodeAccount(a.balance, a.nonce, a.leaf));
    }
    let start = 0;
    for (const b of w.batches ?? []) {
      const loc = Buffer.allocUnsafe(12);
      loc.writeUInt32LE(h, 0);
      loc.writeUInt32LE(start, 4);
      loc.writeUInt32LE(b.count, 8);
      this.batchIndex.put(Buffer.from(b.digest), loc);
      start += b.count;
    }
    this.contracts.putBlock(h, w.contracts, w.receipts);
    if (w.meta) for (const [k, v] of Object.entries(w.meta)) this.meta.put(k, v);
    return this.meta.put('tip', { height: h, hash: w.hash, stateRoot: w.header.stateRoot });
  }

  /** Append-only chunks of ids and statuses: the id index is rebuilt from these (tx-id-index.ts). */
  private putTxIds(h: number, ids: Uint8Array, statuses: Uint8Array, n: number): void {
    const chunks = Buffer.allocUnsafe(n * (TX_ID_SIZE + 1));
    for (let c = 0, first = 0; first < n; c++, first += TX_ID_CHUNK) {
      const k = Math.min(TX_ID_CHUNK, n - first);
      const v = chunks.subarray(first * (TX_ID_SIZE + 1), (first + k) * (TX_ID_SIZE + 1));
      v.set(ids.subarray(first * TX_ID_SIZE, (first + k) * TX_ID_SIZE), 0);
      v.set(statuses.subarray(first, first + k), k * TX_ID_SIZE);
      this.txIds.put(chunkKey(h, c), v);
    }
  }

  /**
   * A data dir written before `tx-ids` existed (its index was an LMDB table keyed by id) gets each
   * block's chunks from its payload and results, once; `meta.txIds` marks a store that has them.
   */
  async upgradeTxIds(): Promise<void> {
    const tip = this.tip();
    if (!tip || this.getMeta<number>('txIds') === TX_IDS_VERSION) return;
    for (let h = 1; h <= tip.height; h++) {
      const txs = this.getPayload(h) ?? Buffer.alloc(0);
      const statuses = this.getResults(h) ?? new Uint8Array(0);
      const n = Math.min(txs.length / TX_SIZE, statuses.length);
      const ids = Buffer.allocUnsafe(n * TX_ID_SIZE);
      for (let i = 0; i < n; i++) txId(txs, i * TX_SIZE).copy(ids, i * TX_ID_SIZE);
      this.putTxIds(h, ids, statuses, n);
      if (h % 64 === 0) await this.root.flushed;
    }
    await this.meta.put('txIds', TX_IDS_VERSION);
    await this.root.flushed;
  }

  /** The write failure that stopped this store, if any. */
  get writeFailure(): HotledgerError | undefined {
    return this.failure;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.snapshot?.done();
    this.snapshot = undefined;
    await Promise.resolve(this.root.flushed).catch(() => undefined); // a failed commit was reported by its write
    await this.root.close();
  }
}

/** `meta.txIds` of a store whose blocks all have their `tx-ids` chunks. */
export const TX_IDS_VERSION = 1;

/** Transactions per `tx-ids` chunk: a look-up reads one chunk (~8.4 KB). */
export const TX_ID_CHUNK = 256;

/** The `tx-ids` key of a block's chunk. */
export function chunkKey(height: number, chunk: number): Buffer {
  const k = Buffer.allocUnsafe(8);
  k.writeUInt32BE(height, 0);
  k.writeUInt32BE(chunk, 4);
  return k;
}

/**
 * A value without a copy where lmdb can (a view into the map, or a buffer reused by the next read:
 * use it before the next read). lmdb's typings omit the read options its getBinaryFast takes.
 */
function fastGet<K extends number | Buffer>(db: Database<Buffer, K>, key: K, opts: { transaction: Transaction } | undefined): Buffer | undefined {
  return (db.getBinaryFast as (id: K, o?: { transaction: Transaction }) => Buffer | undefined).call(db, key, opts);
}

/**
 * An upper bound on the pages one block adds: its values, the index and account records with
 * their keys, doubled for half-full B-tree pages, plus room for branch pages and the free list.
 */
function blockWriteBound(w: BlockWrite): number {
  const n = w.header.txCount;
  const values = w.payload.length + w.ids.length + w.statuses.length + w.encodedHeader.length;
  const accounts = 2 * n * (32 + ACCOUNT_RECORD_SIZE + 16);
  const batches = (w.batches?.length ?? 0) * 64;
  const contracts = contractWriteBound(w.contracts, w.receipts);
  return 2 * (values + accounts + batches + contracts) + 256 * 1024;
}
