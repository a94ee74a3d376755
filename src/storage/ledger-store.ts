import { IF_EXISTS, open, type Database, type RootDatabase, type Transaction } from 'lmdb';
import { mkdirSync } from 'node:fs';
import { HotledgerError } from '../errors.js';
import { checkQuota, writeError } from './storage-errors.js';
import { TX_ID_SIZE } from '../tx/layout.js';
import { ownsIndexEntry } from '../execution/tx-finality.js';
import { decodeHeader, type BlockHeader } from '../chain/block-header.js';
import { ACCOUNT_RECORD_SIZE, decodeAccount, decodeTxLocation, encodeAccount, encodeTxLocation, TX_LOCATION_SIZE, type AccountRecord, type TxLocation } from './records.js';

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
/**
 * lmdb's native writer crashes the process (SIGSEGV, "invalid address 0") on values backed by a
 * SharedArrayBuffer: such bytes are copied into a plain buffer first.
 */
export function plain(u: Uint8Array): Buffer {
  return u.buffer instanceof SharedArrayBuffer ? Buffer.from(u) : Buffer.from(u.buffer, u.byteOffset, u.length);
}

export class LedgerStore {
  readonly root: RootDatabase;
  readonly headers: Database<Buffer, number>;
  readonly payloads: Database<Buffer, number>;
  readonly results: Database<Buffer, number>;
  readonly txIndex: Database<Buffer, Buffer>;
  readonly accounts: Database<Buffer, Buffer>;
  readonly meta: Database<unknown, string>;
  readonly batchIndex: Database<Buffer, Buffer>;
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

  constructor(opts: StoreOptions) {
    mkdirSync(opts.path, { recursive: true });
    this.path = opts.path;
    this.limitBytes = opts.mapSizeMb * 1024 * 1024;
    this.root = open({ path: opts.path, mapSize: opts.mapSizeMb * 1024 * 1024, maxDbs: 16, compression: false });
    const bin = (name: string) => this.root.openDB<Buffer, number>({ name, keyEncoding: 'uint32', encoding: 'binary' });
    this.headers = bin('headers');
    this.payloads = bin('payloads');
    this.results = bin('results');
    this.txIndex = this.root.openDB<Buffer, Buffer>({ name: 'tx-index', keyEncoding: 'binary', encoding: 'binary' });
    this.accounts = this.root.openDB<Buffer, Buffer>({ name: 'accounts', keyEncoding: 'binary', encoding: 'binary' });
    this.meta = this.root.openDB<unknown, string>({ name: 'meta', encoding: 'msgpack' });
    this.batchIndex = this.root.openDB<Buffer, Buffer>({ name: 'batch-index', keyEncoding: 'binary', encoding: 'binary' });
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

  getTxLocation(id: Uint8Array): TxLocation | undefined {
    const v = this.txIndex.get(Buffer.from(id.buffer, id.byteOffset, id.length), this.readOpts());
    if (!v) return undefined;
    if (v.length !== TX_LOCATION_SIZE) throw new HotledgerError('STORAGE_CORRUPT', 'tx index record has the wrong size');
    return decodeTxLocation(v);
  }

  hasTx(id: Uint8Array): boolean {
    return this.txIndex.get(Buffer.from(id.buffer, id.byteOffset, id.length), this.readOpts()) !== undefined;
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
    const ids = plain(w.ids);
    // One allocation for all index values of the block; LMDB reads each slice at commit.
    const locations = Buffer.allocUnsafe(w.header.txCount * TX_LOCATION_SIZE);
    for (let i = 0; i < w.header.txCount; i++) {
      if (!ownsIndexEntry(w.statuses[i]!)) continue;
      const v = locations.subarray(i * TX_LOCATION_SIZE, (i + 1) * TX_LOCATION_SIZE);
      this.txIndex.put(ids.subarray(i * TX_ID_SIZE, (i + 1) * TX_ID_SIZE), encodeTxLocation(h, i, w.statuses[i]!, v));
    }
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
    if (w.meta) for (const [k, v] of Object.entries(w.meta)) this.meta.put(k, v);
    return this.meta.put('tip', { height: h, hash: w.hash, stateRoot: w.header.stateRoot });
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

/**
 * An upper bound on the pages one block adds: its values, the index and account records with
 * their keys, doubled for half-full B-tree pages, plus room for branch pages and the free list.
 */
function blockWriteBound(w: BlockWrite): number {
  const n = w.header.txCount;
  const values = w.payload.length + w.ids.length + w.statuses.length + w.encodedHeader.length;
  const index = n * (TX_ID_SIZE + TX_LOCATION_SIZE + 16);
  const accounts = 2 * n * (32 + ACCOUNT_RECORD_SIZE + 16);
  const batches = (w.batches?.length ?? 0) * 64;
  return 2 * (values + index + accounts + batches) + 256 * 1024;
}
