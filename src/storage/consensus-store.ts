import { open, type Database, type RootDatabase } from 'lmdb';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { HotledgerError } from '../errors.js';
import { plain } from './ledger-store.js';

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
 */
export class ConsensusStore {
  private readonly root: RootDatabase;
  private readonly meta: Database<unknown, string>;
  private readonly chain: Database<Buffer, number>;
  private closed = false;

  /**
   * `mapSizeMb` bounds the file (LMDB only reserves address space): the committed chain grows by
   * about 2 KB/s on an idle 4-validator cluster (a heartbeat block every 250 ms), so the node
   * passes `storage.mapSizeMb`, as for the ledger.
   */
  constructor(dataDir: string, mapSizeMb = 1024) {
    const path = join(dataDir, 'consensus');
    mkdirSync(path, { recursive: true });
    this.root = open({ path, mapSize: mapSizeMb * 1024 * 1024, maxDbs: 4, compression: false });
    this.meta = this.root.openDB<unknown, string>({ name: 'meta', encoding: 'msgpack' });
    this.chain = this.root.openDB<Buffer, number>({ name: 'committed-chain', keyEncoding: 'uint32', encoding: 'binary' });
  }

  /** The committed consensus block at this consensus height (encodeCommittedBlock bytes). */
  getCommittedBlock(height: number): Buffer | undefined {
    return this.chain.get(height);
  }

  get<T>(key: string): T | undefined {
    return this.meta.get(key) as T | undefined;
  }

  /** True before the first write: a data dir from before this store kept the records in the ledger's meta. */
  get empty(): boolean {
    return this.meta.getKeysCount() === 0;
  }

  /**
   * Writes all entries (and committed blocks, if any) in one transaction: lmdb-js commits the writes
   * of one event turn together. Resolves once it is on disk.
   */
  async putDurable(entries: Record<string, unknown>, committed: readonly { height: number; bytes: Uint8Array }[] = []): Promise<void> {
    if (this.closed) throw new HotledgerError('STORAGE_CLOSED', 'consensus store is closed');
    let last: Promise<unknown> = Promise.resolve();
    for (const b of committed) last = this.chain.put(b.height, plain(b.bytes));
    for (const [k, v] of Object.entries(entries)) last = this.meta.put(k, v);
    await last;
    await this.root.flushed;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.root.flushed;
    await this.root.close();
  }
}
