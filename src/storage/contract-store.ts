import type { Database, RootDatabase, Transaction } from 'lmdb';
import { HotledgerError } from '../errors.js';
import type { ContractBlockWrites, ContractSource } from '../execution/contract-state.js';
import {
  CONTRACT_RECORD_SIZE,
  type ContractReceipt,
  decodeContract,
  encodeContract,
  receiptFromStored,
  receiptKey,
  receiptToStored,
  type StoredContract,
  type StoredReceipt,
  storageDbKey,
} from './contract-records.js';
import { plain } from './records.js';

/** The receipts of one block's included contract transactions, block order (BlockWrite.receipts). */
export type BlockReceipts = readonly { index: number; txId: Uint8Array; receipt: ContractReceipt }[];

/**
 * The contract tables of the node's LMDB environment (docs/decisions.md "Contracts: storage
 * layout"). LedgerStore opens them with its own and writes them in its block's transaction
 * (putBlock runs inside that synchronous run); reads go through its pinned snapshot.
 */
export class ContractStore implements ContractSource {
  /** Contract code by its SHA-256 (stored once, whoever deploys it again). */
  readonly code: Database<Buffer, Buffer>;
  /** Contract records by address (contract-records.ts encodeContract). */
  readonly records: Database<Buffer, Buffer>;
  /** Contract storage by storageDbKey(address, key). */
  readonly storage: Database<Buffer, Buffer>;
  /** Receipts by tx id (msgpack StoredReceipt, with their height and index). */
  readonly receipts: Database<StoredReceipt, Buffer>;
  /** (height, index) -> tx id of each receipt: a block's receipts are one range. */
  readonly blockReceipts: Database<Buffer, Buffer>;

  constructor(
    root: RootDatabase,
    /** The store's `meta` table: `feesBurned` is written there with the block's other metadata. */
    private readonly meta: Database<unknown, string>,
    private readonly readOpts: () => { transaction: Transaction } | undefined,
  ) {
    this.code = root.openDB<Buffer, Buffer>({ name: 'contract-code', keyEncoding: 'binary', encoding: 'binary' });
    this.records = root.openDB<Buffer, Buffer>({ name: 'contracts', keyEncoding: 'binary', encoding: 'binary' });
    this.storage = root.openDB<Buffer, Buffer>({ name: 'contract-storage', keyEncoding: 'binary', encoding: 'binary' });
    this.receipts = root.openDB<StoredReceipt, Buffer>({ name: 'receipts', keyEncoding: 'binary', encoding: 'msgpack' });
    this.blockReceipts = root.openDB<Buffer, Buffer>({ name: 'block-receipts', keyEncoding: 'binary', encoding: 'binary' });
  }

  /** A contract's record, and the size of its code. */
  getContract(address: Uint8Array): StoredContract | undefined {
    const v = this.records.get(bytes(address), this.readOpts());
    if (!v) return undefined;
    if (v.length !== CONTRACT_RECORD_SIZE) throw new HotledgerError('STORAGE_CORRUPT', 'contract record has the wrong size');
    return decodeContract(v);
  }

  getContractCode(codeHash: Uint8Array): Buffer | undefined {
    return this.code.get(bytes(codeHash), this.readOpts());
  }

  getContractStorage(address: Uint8Array, key: Uint8Array): Buffer | undefined {
    return this.storage.get(storageDbKey(address, key), this.readOpts());
  }

  getReceipt(txId: Uint8Array): ContractReceipt | undefined {
    const s = this.receipts.get(bytes(txId), this.readOpts());
    return s ? receiptFromStored(s) : undefined;
  }

  getBlockReceipts(height: number): { index: number; txId: Buffer; receipt: ContractReceipt }[] {
    const out: { index: number; txId: Buffer; receipt: ContractReceipt }[] = [];
    for (const { key, value } of this.blockReceipts.getRange({ start: receiptKey(height, 0), end: receiptKey(height + 1, 0), ...this.readOpts() })) {
      const txId = Buffer.from(value);
      const receipt = this.getReceipt(txId);
      if (!receipt) throw new HotledgerError('STORAGE_CORRUPT', `block ${height} lists a receipt for tx ${txId.toString('hex')} that is not stored`);
      out.push({ index: key.readUInt32BE(4), txId, receipt });
    }
    return out;
  }

  /** Every stored contract (replay's comparison). */
  *allContracts(): IterableIterator<{ address: Buffer; contract: StoredContract }> {
    for (const { key, value } of this.records.getRange({ ...this.readOpts() })) yield { address: Buffer.from(key), contract: decodeContract(value) };
  }

  /** How many storage entries are stored (replay's comparison). */
  contractStorageCount(): number {
    return this.storage.getKeysCount({ ...this.readOpts() });
  }

  /** The fees burned by contract transactions up to the tip (supply = genesis - this). */
  feesBurned(): number {
    return (this.meta.get('feesBurned', this.readOpts()) as number | undefined) ?? 0;
  }

  /** The puts of block `height`'s contract writes and receipts; only inside LedgerStore's block run. */
  putBlock(height: number, c: ContractBlockWrites | undefined, receipts: BlockReceipts | undefined): void {
    if (c) {
      for (const [h, code] of c.code) this.code.put(Buffer.from(h, 'hex'), plain(code));
      for (const [a, rec] of c.contracts) this.records.put(Buffer.from(a, 'hex'), encodeContract(rec));
      for (const [a, m] of c.storage) {
        const address = Buffer.from(a, 'hex');
        for (const [k, v] of m) {
          const key = storageDbKey(address, Buffer.from(k, 'hex'));
          if (v === null) this.storage.remove(key);
          else this.storage.put(key, plain(v));
        }
      }
    }
    for (const r of receipts ?? []) {
      const id = plain(r.txId);
      this.receipts.put(id, receiptToStored(height, r.index, r.receipt));
      this.blockReceipts.put(receiptKey(height, r.index), id);
    }
  }
}

/** The bytes a block's contract writes and receipts add, values and keys (LedgerStore's quota check). */
export function contractWriteBound(c: ContractBlockWrites | undefined, receipts: BlockReceipts | undefined): number {
  let n = 0;
  if (c) {
    for (const code of c.code.values()) n += 32 + code.length;
    n += c.contracts.size * (32 + CONTRACT_RECORD_SIZE + 16);
    for (const m of c.storage.values()) for (const [k, v] of m) n += 33 + k.length / 2 + (v?.length ?? 0) + 16;
  }
  for (const r of receipts ?? []) {
    n += 128 + r.receipt.output.length + (r.receipt.message?.length ?? 0) * 3;
    for (const e of r.receipt.events) n += 48 + e.topic.length + e.data.length;
  }
  return n;
}

function bytes(u: Uint8Array): Buffer {
  return Buffer.from(u.buffer, u.byteOffset, u.length);
}
