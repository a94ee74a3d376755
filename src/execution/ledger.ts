import { performance } from 'node:perf_hooks';
import { HotledgerError } from '../errors.js';
import { encodeHeader, headerHash, txRootOf, type BlockHeader } from '../chain/block-header.js';
import { genesisId, type GenesisAccount } from '../chain/genesis.js';
import { LedgerStore, TX_IDS_VERSION, type ChainTip } from '../storage/ledger-store.js';
import { AccountState } from './account-state.js';
import { type ContractLaneStep, executeBlock, markBlockGas } from './execute-block.js';
import { ShardPool } from './shard-pool.js';
import { framePrefix } from '../tx/frames.js';
import { ContractLane, type LaneOutcome } from './contract-lane.js';
import { ContractStateView } from './contract-state.js';
import { markRepeats } from './tx-finality.js';
import { addInto, rootFromBuffer, rootToBuffer, ZERO_ROOT } from './state-root.js';

export interface LedgerOptions {
  path: string;
  mapSizeMb: number;
  cacheSizeMb: number;
  chainId: number;
  shards: number;
  genesis: readonly GenesisAccount[];
}

export interface ApplyInput {
  txs: Buffer;
  count: number;
  verified: Uint8Array;
  ids: Buffer;
  timestamp: number;
  round: number;
  batches?: { digest: Uint8Array; count: number }[];
}

export interface Applied {
  header: BlockHeader;
  hash: Buffer;
  statuses: Uint8Array;
  executeMs: number;
  visible: Promise<unknown>;
  durable: Promise<void>;
}

/**
 * Execution state plus storage for one chain: takes ordered, verified blocks and makes them
 * durable, one LMDB transaction each. Runs on the ledger thread (or in a replay / test).
 */
export class Ledger {
  readonly store: LedgerStore;
  /** Single shard: the account cache and the state root. Several: only the root (shards own accounts). */
  readonly state: AccountState;
  private tipValue: ChainTip;
  private shardPool: ShardPool | undefined;
  /** Contract state as of the last executed block (LMDB plus the writes of blocks not yet visible). */
  readonly contracts: ContractStateView;
  private readonly lane: ContractLane;
  /** Fees burned by contract transactions up to the tip (persisted as meta.feesBurned). */
  private burned: number;

  private constructor(
    store: LedgerStore,
    state: AccountState,
    tip: ChainTip,
    private readonly opts: LedgerOptions,
  ) {
    this.store = store;
    this.state = state;
    this.tipValue = tip;
    this.contracts = new ContractStateView(store);
    this.lane = new ContractLane(this.contracts);
    this.burned = store.feesBurned();
  }

  /** Fees burned by contract transactions up to the tip: the native supply is genesis minus this minus contract balances. */
  get feesBurned(): number {
    return this.burned;
  }

  static async open(opts: LedgerOptions): Promise<Ledger> {
    const store = new LedgerStore({ path: opts.path, mapSizeMb: opts.mapSizeMb });
    const gid = genesisId(opts.chainId, opts.genesis);
    const tip = store.tip();
    if (tip) {
      const stored = store.getMeta<string>('genesisId');
      if (stored !== gid) {
        await store.close();
        throw new HotledgerError('CONFIG_INVALID', `data dir ${opts.path} holds another chain (genesis ${stored}, config says ${gid}): use another node.dataDir`);
      }
    }
    const state = new AccountState(store, tip ? rootFromBuffer(tip.stateRoot) : ZERO_ROOT(), AccountState.capacityFor(opts.cacheSizeMb));
    const ledger = new Ledger(store, state, tip ?? { height: -1, hash: Buffer.alloc(32), stateRoot: Buffer.alloc(32) }, opts);
    if (!tip) await ledger.writeGenesis(gid);
    else await store.upgradeTxIds();
    // The id index is rebuilt from the chain now, not on the first block's clock.
    store.finalIds();
    // Shard workers read accounts from LMDB on a miss, so they start after genesis is durable.
    if (opts.shards > 1) ledger.shardPool = await ShardPool.start({ path: opts.path, mapSizeMb: opts.mapSizeMb, cacheSizeMb: opts.cacheSizeMb, shards: opts.shards });
    return ledger;
  }

  get tip(): ChainTip {
    return this.tipValue;
  }

  private async writeGenesis(gid: string): Promise<void> {
    const touched = this.opts.genesis.map((g) => {
      const a = this.state.getOrCreate(g.publicKey);
      a.balance += g.balance;
      return a;
    });
    const unique = [...new Set(touched)];
    this.state.commitLeaves(unique, 0, this.state.root);
    const header: BlockHeader = {
      height: 0,
      timestamp: 0,
      txCount: 0,
      committed: 0,
      rejected: 0,
      parentHash: Buffer.alloc(32),
      parentStateRoot: Buffer.alloc(32),
      stateRoot: rootToBuffer(this.state.root),
      txRoot: txRootOf(new Uint8Array(0)),
      round: 0,
    };
    const encodedHeader = encodeHeader(header);
    const hash = headerHash(encodedHeader);
    const w = this.store.writeBlock({
      header,
      encodedHeader,
      hash,
      payload: new Uint8Array(0),
      ids: new Uint8Array(0),
      statuses: new Uint8Array(0),
      accounts: unique,
      meta: { genesisId: gid, chainId: this.opts.chainId, txIds: TX_IDS_VERSION },
    });
    this.tipValue = { height: 0, hash, stateRoot: header.stateRoot };
    await w.durable;
    this.state.markVisible(0);
  }

  /**
   * Executes the next block (on the shard workers when there are several) and issues its write;
   * the caller awaits `durable` before acking. Calls must not overlap: await one before the next.
   */
  async apply(input: ApplyInput): Promise<Applied> {
    const t0 = performance.now();
    const height = this.tipValue.height + 1;
    const parentStateRoot = this.tipValue.stateRoot;
    // The store's id index learns this block's owning ids here, before the block is even written:
    // block n+1 executes while n commits, and the id-finality rule must see n's ids all the same.
    // A buffer that does not frame is this node's bug: the pipeline framed every batch of it.
    const frames = framePrefix(input.txs, input.count);
    if (!frames) throw new HotledgerError('INTERNAL', `block ${height}: its ${input.count} transactions do not frame`);
    const txs = input.txs.subarray(0, frames.offsets[input.count]!);
    const verified = markBlockGas(txs, frames, markRepeats(input.ids, input.count, input.verified, height, this.store.beginBlock(height, input.ids)), this.opts.chainId);
    let laneOut: LaneOutcome | undefined;
    const lane: ContractLaneStep = (st) => {
      laneOut = this.lane.run({ height, timeMs: input.timestamp, chainId: this.opts.chainId, txs, frames, statuses: st, ids: input.ids });
      return laneOut.credits;
    };
    let statuses: Uint8Array;
    let accounts: Iterable<{ key: Uint8Array; balance: number; nonce: number; leaf: Uint32Array | null }>;
    if (this.shardPool) {
      const r = await this.shardPool.execute(height, this.opts.chainId, txs, frames, verified, frames.contracts > 0 ? lane : undefined);
      addInto(this.state.root, r.delta);
      ({ statuses, accounts } = r);
    } else {
      const o = executeBlock(this.state, { height, chainId: this.opts.chainId, txs, count: input.count, frames, verified }, 1, lane);
      statuses = o.statuses;
      accounts = o.touched;
    }
    let meta: Record<string, unknown> | undefined;
    if (laneOut) {
      addInto(this.state.root, laneOut.delta);
      this.contracts.stage(height, laneOut.writes);
      if (laneOut.burned > 0) {
        this.burned += laneOut.burned;
        meta = { feesBurned: this.burned };
      }
    }
    this.store.blockExecuted(height, statuses);
    let committed = 0;
    for (let i = 0; i < input.count; i++) if (statuses[i] === 0) committed++;
    const header: BlockHeader = {
      height,
      timestamp: input.timestamp,
      txCount: input.count,
      committed,
      rejected: input.count - committed,
      parentHash: this.tipValue.hash,
      parentStateRoot,
      stateRoot: rootToBuffer(this.state.root),
      txRoot: txRootOf(input.ids),
      round: input.round,
    };
    const encodedHeader = encodeHeader(header);
    const hash = headerHash(encodedHeader);
    const executeMs = performance.now() - t0;
    const { visible, durable } = this.store.writeBlock({
      header,
      encodedHeader,
      hash,
      payload: txs,
      ids: input.ids,
      statuses,
      accounts,
      batches: input.batches,
      ...(laneOut ? { contracts: laneOut.writes, receipts: laneOut.receipts } : {}),
      ...(meta ? { meta } : {}),
    });
    this.tipValue = { height, hash, stateRoot: header.stateRoot };
    void visible.then(() => {
      this.store.refresh();
      this.store.blockVisible(height);
      this.contracts.visible(height);
      return this.shardPool ? this.shardPool.visible(height) : this.state.markVisible(height);
    });
    return { header, hash, statuses, executeMs, visible, durable };
  }

  async close(): Promise<void> {
    await this.shardPool?.close();
    await this.store.close();
  }
}
