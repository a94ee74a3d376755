import { headerHash, txRootOf } from '../chain/block-header.js';
import type { GenesisAccount } from '../chain/genesis.js';
import type { LedgerStore } from '../storage/ledger-store.js';
import { verifyTransactions } from '../tx/verify.js';
import { TX_ID_SIZE } from '../tx/layout.js';
import { frameTxs, txIdAt, verifyFramed } from '../tx/frames.js';
import { AccountState } from './account-state.js';
import { executeBlock } from './execute-block.js';
import { ContractLane } from './contract-lane.js';
import { ContractStateView, MemoryContractSource } from './contract-state.js';
import { receiptToStored } from '../storage/contract-records.js';
import { markRepeats, ownsIndexEntry } from './tx-finality.js';
import { idAt, TxIdIndex } from '../storage/tx-id-index.js';
import { addInto, rootToBuffer, ZERO_ROOT } from './state-root.js';

export interface ReplayReport {
  height: number;
  stateRoot: Buffer;
  /** Human-readable disagreements between the stored chain and the replay; empty when consistent. */
  problems: string[];
  accounts: number;
  /** Contracts and storage entries the replay ended with. */
  contracts: number;
  storageEntries: number;
  /** Fees burned by contract transactions, replayed. */
  feesBurned: number;
}

/**
 * Re-executes every stored block from genesis in a fresh in-memory state, re-verifying every
 * signature, and checks each header (parent links, tx root, statuses, state roots) and the final
 * account table against what the store holds. This is what "the store is at a whole block" means.
 */
export function replayChain(store: LedgerStore, chainId: number, genesis: readonly GenesisAccount[], shards = 1): ReplayReport {
  const problems: string[] = [];
  const state = new AccountState({ getAccount: () => undefined }, ZERO_ROOT(), Number.MAX_SAFE_INTEGER);
  const seen = new Set(
    genesis.map((g) => {
      const a = state.getOrCreate(g.publicKey);
      a.balance += g.balance;
      return a;
    }),
  );
  state.commitLeaves([...seen], 0, state.root);
  const contractSource = new MemoryContractSource();
  const lane = new ContractLane(new ContractStateView(contractSource));
  let burned = 0;
  const tip = store.tip();
  if (!tip) return { height: -1, stateRoot: rootToBuffer(state.root), problems: ['store has no tip'], accounts: 0, contracts: 0, storageEntries: 0, feesBurned: 0 };
  /** Ids whose outcome is final (they own their tx-index entry), recomputed from the payloads. */
  const replayedIds = new Map<number, Buffer>();
  const final = new TxIdIndex((height, position, id) => idAt(replayedIds.get(height)!, position, id));
  let parentHash: Buffer = Buffer.alloc(32);
  let parentRoot: Buffer = Buffer.alloc(32);
  for (let h = 0; h <= tip.height; h++) {
    const bytes = store.getHeaderBytes(h);
    const header = store.getHeader(h);
    if (!bytes || !header) {
      problems.push(`block ${h} missing below tip ${tip.height}`);
      break;
    }
    const txs = store.getPayload(h) ?? Buffer.alloc(0);
    const stored = store.getResults(h) ?? new Uint8Array(0);
    const frames = frameTxs(txs);
    if (!frames) {
      problems.push(`block ${h}: payload does not frame`);
      break;
    }
    const count = frames.count;
    if (count !== header.txCount) problems.push(`block ${h}: payload holds ${count} txs, header says ${header.txCount}`);
    if (h > 0) {
      const ids = Buffer.allocUnsafe(count * TX_ID_SIZE);
      for (let i = 0; i < count; i++) txIdAt(txs, frames.offsets[i]!, frames.offsets[i + 1]! - frames.offsets[i]!).copy(ids, i * TX_ID_SIZE);
      replayedIds.set(h, ids);
      const verified = markRepeats(ids, count, frames.contracts > 0 ? verifyFramed(txs, count) : verifyTransactions(txs, count), h, final);
      let receipts: ReturnType<ContractLane['run']>['receipts'] = [];
      const out = executeBlock(state, { height: h, chainId, txs, count, frames, verified }, shards, (statuses) => {
        const r = lane.run({ height: h, timeMs: header.timestamp, chainId, txs, frames, statuses, ids });
        addInto(state.root, r.delta);
        lane.view.stage(h, r.writes);
        lane.view.visible(h);
        burned += r.burned;
        receipts = r.receipts;
        return r.credits;
      });
      if (Buffer.compare(Buffer.from(out.statuses), Buffer.from(stored)) !== 0) problems.push(`block ${h}: replayed statuses differ from stored results`);
      const storedReceipts = store.getBlockReceipts(h);
      const same =
        storedReceipts.length === receipts.length &&
        receipts.every((r, i) => {
          const s = storedReceipts[i]!;
          return s.index === r.index && s.txId.equals(r.txId) && sameReceipt(receiptToStored(h, s.index, s.receipt), receiptToStored(h, r.index, r.receipt));
        });
      if (!same) problems.push(`block ${h}: replayed contract receipts differ from the stored ones`);
      const storedIds = store.getTxIds(h);
      for (let i = 0; i < count; i++) {
        const id = ids.subarray(i * TX_ID_SIZE, (i + 1) * TX_ID_SIZE);
        const loc = store.getTxLocation(id);
        if (ownsIndexEntry(out.statuses[i]!)) {
          const stored = storedIds !== undefined && idAt(storedIds, i, id);
          if (!stored || !loc || loc.height !== h || loc.position !== i || loc.status !== out.statuses[i]) problems.push(`block ${h}: tx index entry ${i} is wrong`);
        } else if (loc && loc.height === h && loc.position === i) {
          problems.push(`block ${h}: tx ${i} (${out.statuses[i]}) must not own its tx index entry`);
        }
      }
      if (!txRootOf(ids).equals(header.txRoot)) problems.push(`block ${h}: tx root mismatch`);
    }
    const root = rootToBuffer(state.root);
    if (!header.stateRoot.equals(root)) problems.push(`block ${h}: state root ${header.stateRoot.toString('hex')} != replay ${root.toString('hex')}`);
    if (!header.parentHash.equals(parentHash)) problems.push(`block ${h}: parent hash does not link`);
    if (!header.parentStateRoot.equals(parentRoot)) problems.push(`block ${h}: parent state root does not link`);
    parentHash = headerHash(bytes);
    parentRoot = header.stateRoot;
  }
  if (!parentHash.equals(tip.hash)) problems.push('tip hash is not the hash of the last block');
  // Every replayed account must be stored with the same values.
  let accounts = 0;
  for (const a of state.entries()) {
    accounts++;
    const s = store.getAccount(a.key);
    if (!s || s.balance !== a.balance || s.nonce !== a.nonce) {
      problems.push(`account ${a.key.toString('hex')}: stored ${JSON.stringify(s)} != replay ${a.balance}/${a.nonce}`);
      if (problems.length > 20) break;
    }
  }
  // Contract state: every replayed contract and storage entry stored with the same value, and nothing more.
  let contracts = 0;
  let storageEntries = 0;
  for (const [a, c] of contractSource.contracts) {
    contracts++;
    const s = store.getContract(Buffer.from(a, 'hex'));
    if (!s?.codeHash.equals(c.codeHash) || !s.deployer.equals(c.deployer) || s.balance !== c.balance || s.codeSize !== c.codeSize) {
      problems.push(`contract ${a}: stored ${JSON.stringify(s)} != replay ${JSON.stringify(c)}`);
    }
    if (!store.getContractCode(c.codeHash)) problems.push(`contract ${a}: code ${c.codeHash.toString('hex')} not stored`);
  }
  for (const [a, m] of contractSource.storage) {
    for (const [k, v] of m) {
      storageEntries++;
      const s = store.getContractStorage(Buffer.from(a, 'hex'), Buffer.from(k, 'hex'));
      if (!s || Buffer.compare(s, v) !== 0) problems.push(`contract ${a}: storage ${k} differs from the replay`);
    }
  }
  let storedContracts = 0;
  for (const _ of store.allContracts()) storedContracts++;
  if (storedContracts !== contracts) problems.push(`store holds ${storedContracts} contracts, replay ${contracts}`);
  if (store.contractStorageCount() !== storageEntries) problems.push(`store holds ${store.contractStorageCount()} storage entries, replay ${storageEntries}`);
  if (store.feesBurned() !== burned) problems.push(`store says ${store.feesBurned()} fees burned, replay ${burned}`);
  // Supply: what genesis created is in accounts, in contracts, or burned as fees.
  let held = burned;
  for (const a of state.entries()) held += a.balance;
  for (const c of contractSource.contracts.values()) held += c.balance;
  const supply = genesis.reduce((s, g) => s + g.balance, 0);
  if (held !== supply) problems.push(`accounts, contracts and burned fees hold ${held}, genesis created ${supply}`);
  return { height: tip.height, stateRoot: rootToBuffer(state.root), problems, accounts, contracts, storageEntries, feesBurned: burned };
}

function sameReceipt(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
