import { afterAll, describe, expect, it } from 'vitest';
import { type BlockHeader, encodeHeader, headerHash, txRootOf } from '../../src/chain/block-header.js';
import { RejectCode } from '../../src/errors.js';
import { emptyContractWrites } from '../../src/execution/contract-state.js';
import { type ContractReceipt, INLINE_STORAGE_KEY } from '../../src/storage/contract-records.js';
import { LedgerStore } from '../../src/storage/ledger-store.js';
import { tempDir } from '../support/fixtures.js';

const dirs: { remove(): void }[] = [];
afterAll(() => dirs.forEach((d) => d.remove()));

function header(height: number): BlockHeader {
  return {
    height,
    timestamp: height,
    txCount: 0,
    committed: 0,
    rejected: 0,
    parentHash: Buffer.alloc(32),
    parentStateRoot: Buffer.alloc(32),
    stateRoot: Buffer.alloc(32, height),
    txRoot: txRootOf(new Uint8Array(0)),
    round: height,
  };
}

function write(store: LedgerStore, height: number, extra: Pick<Parameters<LedgerStore['writeBlock']>[0], 'contracts' | 'receipts' | 'meta'>) {
  const h = header(height);
  const encodedHeader = encodeHeader(h);
  return store.writeBlock({
    header: h,
    encodedHeader,
    hash: headerHash(encodedHeader),
    payload: new Uint8Array(0),
    ids: new Uint8Array(0),
    statuses: new Uint8Array(0),
    accounts: [],
    ...extra,
  });
}

describe('LedgerStore contract state and receipts', () => {
  it('stores code, records, storage (long keys by hash, removals) and receipts in the block write, and reads them back after a reopen', async () => {
    const dir = tempDir();
    dirs.push(dir);
    let store = new LedgerStore({ path: dir.path, mapSizeMb: 64 });
    const addr = Buffer.alloc(32, 0xc1);
    const codeHash = Buffer.alloc(32, 0x11);
    const shortKey = Buffer.from('b-key');
    const longKey = Buffer.alloc(INLINE_STORAGE_KEY + 700, 0x5a); // past LMDB's key size if stored inline
    const otherLong = Buffer.from(longKey);
    otherLong[otherLong.length - 1] = 0x5b;
    const w0 = emptyContractWrites();
    w0.code.set(codeHash.toString('hex'), Buffer.from('code bytes'));
    w0.contracts.set(addr.toString('hex'), { codeHash, deployer: Buffer.alloc(32, 0xd0), balance: 2 ** 53 - 1, codeSize: 10 });
    w0.storage.set(
      addr.toString('hex'),
      new Map<string, Uint8Array | null>([
        [shortKey.toString('hex'), Buffer.from('v1')],
        [longKey.toString('hex'), Buffer.from('long')],
        [otherLong.toString('hex'), Buffer.from('other')],
      ]),
    );
    const ok: ContractReceipt = {
      status: 0,
      gasUsed: 1234,
      fee: 2,
      events: [{ contract: addr, topic: Buffer.from('transfer'), data: Buffer.from([1, 2, 3]) }],
      output: Buffer.from([9]),
      address: addr,
    };
    const reverted: ContractReceipt = { status: RejectCode.OUT_OF_GAS, gasUsed: 300_000, fee: 300, events: [], output: Buffer.alloc(0), message: 'out of gas' };
    const id = (n: number) => Buffer.alloc(32, n);
    await write(store, 0, {
      contracts: w0,
      receipts: [
        { index: 3, txId: id(3), receipt: ok },
        { index: 7, txId: id(7), receipt: reverted },
      ],
      meta: { feesBurned: 302 },
    }).durable;
    const w1 = emptyContractWrites();
    w1.storage.set(addr.toString('hex'), new Map([[shortKey.toString('hex'), null]]));
    await write(store, 1, { contracts: w1, receipts: [{ index: 0, txId: id(9), receipt: ok }] }).durable;
    await store.close();

    store = new LedgerStore({ path: dir.path, mapSizeMb: 64 });
    expect(store.getContract(addr)).toEqual({ codeHash, deployer: Buffer.alloc(32, 0xd0), balance: 2 ** 53 - 1, codeSize: 10 });
    expect(store.getContract(Buffer.alloc(32, 0xc2))).toBeUndefined();
    expect(store.getContractCode(codeHash)?.toString()).toBe('code bytes');
    expect(store.getContractStorage(addr, shortKey)).toBeUndefined(); // removed by block 1
    expect(store.getContractStorage(addr, longKey)?.toString()).toBe('long');
    expect(store.getContractStorage(addr, otherLong)?.toString()).toBe('other');
    expect(store.contractStorageCount()).toBe(2);
    expect(store.getReceipt(id(7))).toEqual(reverted);
    expect(store.getReceipt(id(1))).toBeUndefined();
    expect(store.getBlockReceipts(0)).toEqual([
      { index: 3, txId: id(3), receipt: ok },
      { index: 7, txId: id(7), receipt: reverted },
    ]);
    expect(store.getBlockReceipts(1).map((r) => r.txId)).toEqual([id(9)]);
    expect(store.getBlockReceipts(2)).toEqual([]);
    expect(store.feesBurned()).toBe(302);
    await store.close();
  });
});
