import { rejectName, type RejectName } from '../errors.js';
import { decodeHeader, headerHash } from '../chain/block-header.js';
import type { CommittedReply } from '../pipeline/ledger-client.js';
import type { LedgerStore } from '../storage/ledger-store.js';
import type { ContractReceipt } from '../storage/contract-records.js';
import type { AccountRecord, TxLocation } from '../storage/records.js';
import type { Config } from '../config/schema.js';
import type { Membership } from './membership.js';
import type { AccountView, BlockView, CommittedBlockEvent, ConsensusStatus, ContractView, NodeInfo, ReceiptView, TxStatusView } from './node-api.js';
import { VERSION } from './version.js';

/** The API's views of what the store holds and the ledger reports (node-api.ts): bytes as lowercase hex. */

/** Bytes without a copy, as hex. */
const hex = (u: Uint8Array): string => Buffer.from(u.buffer, u.byteOffset, u.byteLength).toString('hex');

/** A transaction the chain holds: rejected with its code, or committed with its contract receipt if it has one. */
export function storedTxView(store: LedgerStore, id: Buffer, loc: TxLocation): TxStatusView {
  if (loc.status !== 0) return { status: 'rejected', id: id.toString('hex'), code: rejectName(loc.status) as RejectName, height: loc.height };
  // Only deploys and calls have one; a transfer's lookup is one more miss in an LMDB table.
  const receipt = store.getReceipt(id);
  return { status: 'committed', id: id.toString('hex'), height: loc.height, position: loc.position, ...(receipt && { contract: receiptView(receipt) }) };
}

/** A stored block's header (its encoded bytes, which its hash is over). */
export function blockView(bytes: Buffer): BlockView {
  const hd = decodeHeader(bytes);
  return {
    height: hd.height,
    hash: headerHash(bytes).toString('hex'),
    parentHash: hd.parentHash.toString('hex'),
    stateRoot: hd.stateRoot.toString('hex'),
    parentStateRoot: hd.parentStateRoot.toString('hex'),
    timestamp: hd.timestamp,
    txCount: hd.txCount,
    committed: hd.committed,
    rejected: hd.rejected,
  };
}

export function accountView(publicKey: Buffer, a: AccountRecord): AccountView {
  return { publicKey: publicKey.toString('hex'), balance: a.balance, nonce: a.nonce };
}

/** The contract at `address` with the values of `keys` in its storage (null when unset); undefined when there is none. */
export function contractView(store: LedgerStore, address: Buffer, keys: readonly Buffer[]): ContractView | undefined {
  const c = store.getContract(address);
  if (!c) return undefined;
  const storage: Record<string, string | null> = {};
  for (const k of keys) storage[k.toString('hex')] = store.getContractStorage(address, k)?.toString('hex') ?? null;
  return {
    address: address.toString('hex'),
    codeHash: c.codeHash.toString('hex'),
    deployer: c.deployer.toString('hex'),
    balance: c.balance,
    codeSize: c.codeSize,
    storage,
  };
}

export function receiptView(r: ContractReceipt): ReceiptView {
  return {
    status: r.status === 0 ? 'OK' : rejectName(r.status),
    gasUsed: r.gasUsed,
    fee: r.fee,
    events: r.events.map((e) => ({ contract: hex(e.contract), topic: hex(e.topic), data: hex(e.data) })),
    output: hex(r.output),
    ...(r.address && { address: hex(r.address) }),
    ...(r.message !== undefined && { message: r.message }),
  };
}

/**
 * The block listeners' event for a durable block, from the ledger's reply and the block's ids and
 * statuses; its receipts are read back from the store, which must be pinned at this block.
 */
export function committedBlockEvent(store: LedgerStore, reply: CommittedReply, ids: Buffer, statuses: Uint8Array): CommittedBlockEvent {
  return {
    block: {
      height: reply.height,
      hash: hex(reply.hash),
      parentHash: hex(reply.parentHash),
      stateRoot: hex(reply.stateRoot),
      parentStateRoot: hex(reply.parentStateRoot),
      timestamp: reply.timestamp,
      txCount: statuses.length,
      committed: reply.committed,
      rejected: reply.rejected,
    },
    txIds: ids,
    statuses,
    receipts: store.getBlockReceipts(reply.height).map((r) => ({ index: r.index, receipt: receiptView(r.receipt) })),
  };
}

export function nodeInfoView(c: Config): NodeInfo {
  return {
    nodeId: c.node.id,
    role: c.node.role,
    chainId: c.chain.chainId,
    version: VERSION,
    validatorCount: Math.max(1, c.consensus.validators.length),
    config: {
      threads: c.pipeline.threads,
      batchSize: c.pipeline.batchSize,
      batchTimeoutMs: c.pipeline.batchTimeoutMs,
      cacheSizeMb: c.storage.cacheSizeMb,
      consensusTimeoutMs: c.consensus.timeoutMs,
      heartbeatMs: c.consensus.heartbeatMs,
      mempoolCapacity: c.mempool.capacity,
    },
  };
}

/** Where ordering stands: a follower's or a validator's orderer, or the solo sequencer (no consensus). */
export function consensusStatusView(config: Config, consensus: Membership | undefined, height: number, latestHash: string): ConsensusStatus {
  if (consensus?.kind === 'follower') {
    const s = consensus.orderer.status();
    return {
      mode: 'follower',
      round: s.round,
      leader: '',
      lastCommittedHeight: height,
      lastCommittedHash: latestHash,
      highQc: null,
      consensusHeight: s.height,
      note: `${config.node.role} node following ${consensus.ids.length} validators (subscribed to ${s.subscribed.map((i) => consensus.ids[i]).join(', ') || 'none yet'}); accepts a block only on a 2-chain of quorum certificates; consensus height ${s.height}, ${s.behind} behind the highest seen`,
    };
  }
  if (consensus) {
    const s = consensus.orderer.status();
    return {
      mode: 'hotstuff',
      round: s.round,
      leader: consensus.ids[s.leader] ?? String(s.leader),
      lastCommittedHeight: height,
      lastCommittedHash: latestHash,
      highQc: s.highQc,
      consensusHeight: s.committedHeight,
      note: `2-chain HotStuff over ${consensus.ids.length} validators; consensus height ${s.committedHeight} (${s.committedHash.slice(0, 16)}…), ledger height counts non-empty blocks; equivocations seen ${s.equivocations}, view changes ${consensus.orderer.viewChanges}`,
    };
  }
  return {
    mode: 'solo',
    round: height,
    leader: config.node.id,
    lastCommittedHeight: height,
    lastCommittedHash: latestHash,
    highQc: null,
    note: 'single-node solo sequencer: this node orders its own batches; no votes or quorum certificates',
  };
}
