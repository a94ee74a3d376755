import { RejectCode } from '../errors.js';
import { ContractRuntime, type BlockContext, type RunnableTx, WarmCode } from '../contracts/runtime.js';
import { byteKey, type ContractRecord, type KeyedStateReader, StateOverlay, storageKey } from '../contracts/state.js';
import type { ContractReceipt, StoredContract } from '../storage/contract-records.js';
import { readU32, readU53 } from '../tx/codec.js';
import { CtxOff, decodeContractTx, TX_KIND_CALL } from '../tx/contract-tx.js';
import { KEY_SIZE, SIGNATURE_SIZE } from '../tx/layout.js';
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

/**
 * What the runtime sees under its overlays. Native balances are never read: the sender of the
 * running transaction holds exactly its reservation, any other non-contract address holds 0 (so
 * whatever it ends with is a credit), and a contract holds its balance from contract state.
 *
 * One reader serves one block: the view does not change while the lane runs, so each code hash,
 * contract and storage key is read from it (LMDB or a pending block's layer) at most once per
 * block, absent ones included; the token's balance keys are read by nearly every call.
 */
class LaneReader implements KeyedStateReader {
  senderKey: string | undefined;
  reservation = 0;
  private readonly code = new Map<string, Uint8Array | undefined>();
  private readonly contracts = new Map<string, { stored: StoredContract; record: ContractRecord } | undefined>();
  private readonly storage = new Map<string, Uint8Array | undefined>();
  constructor(private readonly view: ContractStateView) {}

  getCode(h: Uint8Array): Uint8Array | undefined {
    return this.codeAt(byteKey(h), h);
  }
  codeAt(k: string, h: Uint8Array): Uint8Array | undefined {
    let v = this.code.get(k);
    if (v === undefined && !this.code.has(k)) this.code.set(k, (v = this.view.getContractCode(h)));
    return v;
  }
  /** The contract's record as the view holds it (balance included), before this block. */
  stored(address: Uint8Array): StoredContract | undefined {
    return this.entry(byteKey(address), address)?.stored;
  }
  private entry(k: string, address: Uint8Array): { stored: StoredContract; record: ContractRecord } | undefined {
    let c = this.contracts.get(k);
    if (c === undefined && !this.contracts.has(k)) {
      const stored = this.view.getContract(address);
      this.contracts.set(k, (c = stored && { stored, record: { codeHash: stored.codeHash, deployer: stored.deployer } }));
    }
    return c;
  }
  getContract(address: Uint8Array): ContractRecord | undefined {
    return this.entry(byteKey(address), address)?.record;
  }
  contractAt(k: string, address: Uint8Array): ContractRecord | undefined {
    return this.entry(k, address)?.record;
  }
  getStorage(address: Uint8Array, key: Uint8Array): Uint8Array | undefined {
    return this.storageAt(storageKey(address, key), address, key);
  }
  storageAt(k: string, address: Uint8Array, key: Uint8Array): Uint8Array | undefined {
    let v = this.storage.get(k);
    if (v === undefined && !this.storage.has(k)) this.storage.set(k, (v = this.view.getContractStorage(address, key)));
    return v;
  }
  getBalance(account: Uint8Array): number {
    return this.balanceAt(byteKey(account), account);
  }
  balanceAt(k: string, account: Uint8Array): number {
    if (k === this.senderKey) return this.reservation;
    return this.entry(k, account)?.stored.balance ?? 0;
  }
}

/**
 * An included call's fields, read in place: the debit phase checked its static rules, so the
 * layout holds. Decoding it (decodeContractTx) would copy every field and hash the id again.
 */
function callAt(txs: Buffer, o: number, len: number): RunnableTx {
  const p = o + CtxOff.PAYLOAD;
  const methodAt = p + KEY_SIZE + 8;
  const methodEnd = methodAt + 1 + txs[methodAt]!;
  const argsLen = readU32(txs, methodEnd);
  if (methodEnd + 4 + argsLen !== o + len - SIGNATURE_SIZE) throw new Error(`included call at ${o} is malformed`);
  return {
    kind: 'call',
    sender: txs.subarray(o + CtxOff.SENDER, o + CtxOff.SENDER + KEY_SIZE),
    gasLimit: readU53(txs, o + CtxOff.GAS_LIMIT),
    contract: txs.subarray(p, p + KEY_SIZE),
    amount: readU53(txs, p + KEY_SIZE),
    method: txs.toString('latin1', methodAt + 1, methodEnd),
    args: txs.subarray(methodEnd + 4, methodEnd + 4 + argsLen),
  };
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
    const ctx: BlockContext = { height: block.height, timeMs: block.timeMs, warm: new WarmCode() };
    const credits = new Map<string, NativeCredit>();
    const credit = (key: string, amount: number): void => {
      if (amount === 0) return;
      const c = credits.get(key);
      if (c) c.amount += amount;
      else credits.set(key, { key: Buffer.from(key, 'latin1'), amount });
    };
    const receipts: BlockReceipt[] = [];
    let burned = 0;
    for (let i = 0; i < frames.count; i++) {
      const o = frames.offsets[i]!;
      if (statuses[i] !== 0 || !isContractTxAt(txs, o)) continue;
      const len = frames.offsets[i + 1]! - o;
      // Included means the debit phase checked the static rules: this decode cannot fail.
      const tx = txs[o + CtxOff.KIND] === TX_KIND_CALL ? callAt(txs, o, len) : decodeContractTx(txs.subarray(o, o + len), block.chainId);
      const reservation = reservationAt(txs, o);
      const senderKey = byteKey(tx.sender);
      reader.senderKey = senderKey;
      reader.reservation = reservation;
      const txState = new StateOverlay(blockState);
      const r = this.runtime.execute(txState, tx, ctx);
      if (r.status === RejectCode.INSUFFICIENT_FUNDS) throw new Error(`contract tx ${i} of block ${block.height} could not spend its own reservation`);
      // Native balances leave the overlay as credits; contract balances stay in contract state.
      let senderWritten = false;
      let native = 0;
      let contractDelta = 0;
      for (const [a, b] of txState.writtenBalances()) {
        const address = Buffer.from(a, 'latin1');
        if (txState.getContract(address)) {
          contractDelta += b - blockState.getBalance(address);
          continue;
        }
        txState.dropBalance(a);
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
    reader.senderKey = undefined;
    const { writes, delta } = this.collect(blockState, reader);
    return { credits: [...credits.values()], receipts, writes, delta, burned };
  }

  /** The block overlay as whole records (keyed by hex, as the store takes them), and the state-root delta against the view. */
  private collect(blockState: StateOverlay, before: LaneReader): { writes: ContractBlockWrites; delta: Uint32Array } {
    const out = emptyContractWrites();
    const delta = ZERO_ROOT();
    for (const [h, code] of blockState.writtenCode()) {
      const codeHash = Buffer.from(h, 'latin1');
      if (before.getCode(codeHash)) continue;
      out.code.set(codeHash.toString('hex'), code);
      addInto(delta, codeLeaf(codeHash));
    }
    for (const a of new Set([...blockState.writtenContracts().keys(), ...blockState.writtenBalances().keys()])) {
      const address = Buffer.from(a, 'latin1');
      const rec = blockState.getContract(address);
      if (!rec) throw new Error(`balance of ${address.toString('hex')} left in contract state, but it is no contract`);
      const old = before.stored(address);
      const code = blockState.getCode(rec.codeHash);
      if (!code) throw new Error(`contract ${address.toString('hex')} has no code ${rec.codeHash.toString('hex')}`);
      const next: StoredContract = { codeHash: Buffer.from(rec.codeHash), deployer: Buffer.from(rec.deployer), balance: blockState.getBalance(address), codeSize: code.length };
      if (!Number.isSafeInteger(next.balance) || next.balance < 0) throw new Error(`contract ${address.toString('hex')} balance out of range: ${next.balance}`);
      if (old && old.balance === next.balance && old.codeHash.equals(next.codeHash) && old.deployer.equals(next.deployer)) continue;
      if (old) subInto(delta, contractLeaf(address, old.codeHash, old.deployer, old.balance));
      addInto(delta, contractLeaf(address, next.codeHash, next.deployer, next.balance));
      out.contracts.set(address.toString('hex'), next);
    }
    // Storage keys are storageKey(address, key): the address is the first 32 characters.
    for (const [k, v] of blockState.writtenStorage()) {
      const address = Buffer.from(k.slice(0, 32), 'latin1');
      const key = Buffer.from(k.slice(32), 'latin1');
      const old = before.getStorage(address, key);
      if (old === undefined && v === null) continue;
      if (old !== undefined && v !== null && Buffer.compare(old, v) === 0) continue;
      if (old !== undefined) subInto(delta, storageLeaf(address, key, old));
      if (v !== null) addInto(delta, storageLeaf(address, key, v));
      const a = address.toString('hex');
      let changed = out.storage.get(a);
      if (!changed) out.storage.set(a, (changed = new Map()));
      changed.set(key.toString('hex'), v);
    }
    return { writes: out, delta };
  }
}
