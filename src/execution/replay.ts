import { headerHash, txRootOf } from '../chain/block-header.js';
import type { GenesisAccount } from '../chain/genesis.js';
import type { LedgerStore } from '../storage/ledger-store.js';
import { txId } from '../tx/codec.js';
import { verifyTransactions } from '../tx/verify.js';
import { TX_ID_SIZE, TX_SIZE } from '../tx/layout.js';
import { AccountState } from './account-state.js';
import { executeBlock } from './execute-block.js';
import { markRepeats, ownsIndexEntry } from './tx-finality.js';
import { idAt, TxIdIndex } from '../storage/tx-id-index.js';
import { rootToBuffer, ZERO_ROOT } from './state-root.js';

export interface ReplayReport {
  height: number;
  stateRoot: Buffer;
  /** Human-readable disagreements between the stored chain and the replay; empty when consistent. */
  problems: string[];
  accounts: number;
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
  const tip = store.tip();
  if (!tip) return { height: -1, stateRoot: rootToBuffer(state.root), problems: ['store has no tip'], accounts: 0 };
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
    const count = txs.length / TX_SIZE;
    if (count !== header.txCount) problems.push(`block ${h}: payload holds ${count} txs, header says ${header.txCount}`);
    if (h > 0) {
      const ids = Buffer.allocUnsafe(count * TX_ID_SIZE);
      for (let i = 0; i < count; i++) txIdAt(txs, i).copy(ids, i * TX_ID_SIZE);
      replayedIds.set(h, ids);
      const verified = markRepeats(ids, count, verifyTransactions(txs, count), h, final);
      const out = executeBlock(state, { height: h, chainId, txs, count, verified }, shards);
      if (Buffer.compare(Buffer.from(out.statuses), Buffer.from(stored)) !== 0) problems.push(`block ${h}: replayed statuses differ from stored results`);
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
  return { height: tip.height, stateRoot: rootToBuffer(state.root), problems, accounts };
}

function txIdAt(txs: Buffer, i: number): Buffer {
  return txId(txs, i * TX_SIZE);
}
