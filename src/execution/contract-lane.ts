import { RejectCode } from '../errors.js';
import { ContractRuntime, type BlockContext } from '../contracts/runtime.js';
import { type ContractRecord, type ContractStateReader, StateOverlay } from '../contracts/state.js';
import type { ContractReceipt, StoredContract } from '../storage/contract-records.js';
import { decodeContractTx } from '../tx/contract-tx.js';
import { type Frames, isContractTxAt, txIdAt } from '../tx/frames.js';
import { emptyContractWrites, type ContractBlockWrites, type ContractStateView } from './contract-state.js';
import { type NativeCredit, reservationAt } from './execute-block.js';
import { addInto, codeLeaf, contractLeaf, storageLeaf, subInto, ZERO_ROOT } from './state-root.js';

export interface LaneBlock {
  height: number;
  /** Block timestamp, ms (the header's): what `block_time` returns. */
  timeMs: number;
  chainId: number;
  txs: Buffer;
  frames: Frames;
  /** Statuses after the debit phase: the lane runs the contract transactions at 0 (included). */
  statuses: Uint8Array;
  /** The block's tx ids (32 bytes each, block order), when the caller has them: else hashed here. */
  ids?: Uint8Array;
}

export interface BlockReceipt {
  index: number;
  txId: Buffer;
  receipt: ContractReceipt;
}

export interface LaneOutcome {
  /** Per native account, what the lane credits it (refunds and contract transfers), each key once. */
  credits: NativeCredit[];
  receipts: BlockReceipt[];
  writes: ContractBlockWrites;
  /** Contract-state leaves added minus leaves removed: add it to the state root. */
  delta: Uint32Array;
  /** Fees of the block's contract transactions: they leave the supply. */
  burned: number;
}

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

/**
 * What the runtime sees under its overlays. Native balances are never read: the sender of the
 * running transaction holds exactly its reservation, any other non-contract address holds 0 (so
 * whatever it ends with is a credit), and a contract holds its balance from contract state.
 */
class LaneReader implements ContractStateReader {
  sender: Buffer | undefined;
  reservation = 0;
  constructor(private readonly view: ContractStateView) {}

  getCode(h: Uint8Array): Uint8Array | undefined {
    return this.view.getContractCode(h);
  }
  getContract(address: Uint8Array): ContractRecord | undefined {
    const c = this.view.getContract(address);
    return c && { codeHash: c.codeHash, deployer: c.deployer };
  }
  getStorage(address: Uint8Array, key: Uint8Array): Uint8Array | undefined {
    return this.view.getContractStorage(address, key);
  }
  getBalance(account: Uint8Array): number {
    if (this.sender?.equals(account)) return this.reservation;
    return this.view.getContract(account)?.balance ?? 0;
  }
}

/**
 * The contract lane (docs/decisions.md "Contracts: execution rule"): after the debit phase, on
 * the ledger thread, the block's included contract transactions run one by one in block order
 * over the contract state of the previous block. A call's revert keeps the transaction included
 * (nonce consumed, fee burned) and lands in its receipt. Native accounts only receive credits,
 * applied by the caller as a third phase, so the outcome is the same for any shard count.
 */
export class ContractLane {
  constructor(
    readonly view: ContractStateView,
    readonly runtime = new ContractRuntime(),
  ) {}

  run(block: LaneBlock): LaneOutcome {
    const { txs, frames, statuses } = block;
    const reader = new LaneReader(this.view);
    const blockState = new StateOverlay(reader);
    const ctx: BlockContext = { height: block.height, timeMs: block.timeMs };
    const credits = new Map<string, NativeCredit>();
    const credit = (key: string, amount: number): void => {
      if (amount === 0) return;
      const c = credits.get(key);
      if (c) c.amount += amount;
      else credits.set(key, { key: Buffer.from(key, 'hex'), amount });
    };
    const receipts: BlockReceipt[] = [];
    let burned = 0;
    for (let i = 0; i < frames.count; i++) {
      const o = frames.offsets[i]!;
      if (statuses[i] !== 0 || !isContractTxAt(txs, o)) continue;
      const len = frames.offsets[i + 1]! - o;
      // Included means the debit phase checked the static rules: this decode cannot fail.
      const tx = decodeContractTx(txs.subarray(o, o + len), block.chainId);
      const reservation = reservationAt(txs, o);
      reader.sender = Buffer.from(tx.sender);
      reader.reservation = reservation;
      const txState = new StateOverlay(blockState);
      const r = this.runtime.execute(txState, tx, ctx);
      if (r.status === RejectCode.INSUFFICIENT_FUNDS) throw new Error(`contract tx ${i} of block ${block.height} could not spend its own reservation`);
      // Native balances leave the overlay as credits; contract balances stay in contract state.
      const senderKey = hex(tx.sender);
      let senderWritten = false;
      let native = 0;
      let contractDelta = 0;
      const balances = txState.writes().balances;
      for (const [a, b] of balances) {
        const address = Buffer.from(a, 'hex');
        if (txState.getContract(address)) {
          contractDelta += b - blockState.getBalance(address);
          continue;
        }
        balances.delete(a);
        if (a === senderKey) senderWritten = true;
        credit(a, b);
        native += b;
      }
      if (!senderWritten) {
        credit(senderKey, reservation);
        native += reservation;
      }
      // Conservation, per transaction: the reservation is burned, credited back or moved into contracts.
      if (reservation !== r.fee + native + contractDelta) {
        throw new Error(`contract tx ${i} of block ${block.height}: reservation ${reservation} != fee ${r.fee} + native credits ${native} + contract balances ${contractDelta}`);
      }
      txState.commit();
      burned += r.fee;
      const receipt: ContractReceipt = { status: r.status, gasUsed: r.gasUsed, fee: r.fee, events: r.events, output: r.output };
      if (r.address) receipt.address = r.address;
      if (r.message !== undefined) receipt.message = r.message;
      const txId = block.ids ? Buffer.from(block.ids.subarray(i * 32, i * 32 + 32)) : txIdAt(txs, o, len);
      receipts.push({ index: i, txId, receipt });
    }
    reader.sender = undefined;
    const { writes, delta } = this.collect(blockState);
    return { credits: [...credits.values()], receipts, writes, delta, burned };
  }

  /** The block overlay as whole records, and the state-root delta against the view. */
  private collect(blockState: StateOverlay): { writes: ContractBlockWrites; delta: Uint32Array } {
    const w = blockState.writes();
    const out = emptyContractWrites();
    const delta = ZERO_ROOT();
    for (const [h, code] of w.code) {
      const codeHash = Buffer.from(h, 'hex');
      if (this.view.getContractCode(codeHash)) continue;
      out.code.set(h, code);
      addInto(delta, codeLeaf(codeHash));
    }
    for (const a of new Set([...w.contracts.keys(), ...w.balances.keys()])) {
      const address = Buffer.from(a, 'hex');
      const rec = blockState.getContract(address);
      if (!rec) throw new Error(`balance of ${a} left in contract state, but it is no contract`);
      const old = this.view.getContract(address);
      const code = blockState.getCode(rec.codeHash);
      if (!code) throw new Error(`contract ${a} has no code ${rec.codeHash.toString('hex')}`);
      const next: StoredContract = { codeHash: Buffer.from(rec.codeHash), deployer: Buffer.from(rec.deployer), balance: blockState.getBalance(address), codeSize: code.length };
      if (!Number.isSafeInteger(next.balance) || next.balance < 0) throw new Error(`contract ${a} balance out of range: ${next.balance}`);
      if (old && old.balance === next.balance && old.codeHash.equals(next.codeHash) && old.deployer.equals(next.deployer)) continue;
      if (old) subInto(delta, contractLeaf(address, old.codeHash, old.deployer, old.balance));
      addInto(delta, contractLeaf(address, next.codeHash, next.deployer, next.balance));
      out.contracts.set(a, next);
    }
    for (const [a, m] of w.storage) {
      const address = Buffer.from(a, 'hex');
      const changed = new Map<string, Uint8Array | null>();
      for (const [k, v] of m) {
        const key = Buffer.from(k, 'hex');
        const old = this.view.getContractStorage(address, key);
        if (old === undefined && v === null) continue;
        if (old !== undefined && v !== null && Buffer.compare(old, v) === 0) continue;
        if (old !== undefined) subInto(delta, storageLeaf(address, key, old));
        if (v !== null) addInto(delta, storageLeaf(address, key, v));
        changed.set(k, v);
      }
      if (changed.size > 0) out.storage.set(a, changed);
    }
    return { writes: out, delta };
  }
}
