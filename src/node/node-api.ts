import type { Registry } from 'prom-client';
import type { RejectName } from '../errors.js';

/**
 * What the API layer (HTTP, WebSocket, CLI through HTTP) needs from a running node. The node
 * (src/node/node.ts) implements it; the API never reaches past it into pipeline or storage.
 * Amounts are numbers (exact up to 2^53 - 1); the API renders them as decimal strings.
 */
export interface NodeApi {
  info(): NodeInfo;
  stats(): NodeStats;
  consensusStatus(): ConsensusStatus;
  /**
   * Admission of a concatenation of transactions of either layout (src/tx/frames.ts; the API
   * refuses a body that does not frame, naming the offset). Signatures are verified before admission: a transaction
   * whose signature fails is refused with `BAD_SIGNATURE` and leaves no trace. Rejects (throws)
   * with SHUTTING_DOWN or NOT_READY when the node accepts nothing.
   */
  submit(txs: Buffer): Promise<AdmitResult[]>;
  getTransaction(id: Buffer): TxStatusView | undefined;
  getBlock(height: number | 'latest'): BlockView | undefined;
  getAccount(publicKey: Buffer): AccountView | undefined;
  /** A contract's record and the values of `keys` in its storage; undefined when no contract is at `address`. */
  getContract(address: Buffer, keys: readonly Buffer[]): ContractView | undefined;
  health(): HealthReport;
  /** Called once per durable block, in height order. Returns an unsubscribe function. */
  onBlock(listener: (block: CommittedBlockEvent) => void): () => void;
  readonly metrics: Registry;
}

export type AdmitResult = { ok: true; id: Buffer } | { ok: false; code: RejectName };

export interface NodeInfo {
  nodeId: string;
  role: 'validator' | 'business' | 'slim';
  chainId: number;
  version: string;
  validatorCount: number;
  config: {
    threads: number;
    batchSize: number;
    batchTimeoutMs: number;
    cacheSizeMb: number;
    consensusTimeoutMs: number;
    heartbeatMs: number;
    mempoolCapacity: number;
  };
}

export interface NodeStats {
  height: number;
  committedTxs: number;
  rejectedTxs: number;
  tps: { s1: number; s10: number; s60: number };
  mempool: { size: number; capacity: number };
  /** Submission to durable commit, over recent commits. */
  latencyMs: { p50: number; p95: number; p99: number };
  pool: { threads: number; utilization: number; queueDepth: number };
  uptimeSec: number;
}

export interface ConsensusStatus {
  /**
   * `solo`: a single node sequences its own batches (no votes); `hotstuff`: a validator of a BFT
   * cluster; `follower`: a business or slim node that follows the validators' certified commits.
   */
  mode: 'solo' | 'hotstuff' | 'follower';
  round: number;
  leader: string;
  lastCommittedHeight: number;
  lastCommittedHash: string;
  highQc: { round: number; blockHash: string; votes: number } | null;
  /** Consensus blocks committed, empty heartbeat blocks included (validators only). */
  consensusHeight?: number;
  note?: string;
}

export type TxStatusView =
  | { status: 'pending'; id: string }
  | { status: 'committed'; id: string; height: number; position: number; contract?: ReceiptView }
  | { status: 'rejected'; id: string; code: RejectName; height?: number };

/**
 * The receipt of a committed deploy or call, as the API shows it: bytes as lowercase hex, the
 * call's status by name (`OK`, or why it reverted: the transaction is committed either way).
 */
export interface ReceiptView {
  status: 'OK' | RejectName | 'UNKNOWN';
  gasUsed: number;
  fee: number;
  events: { contract: string; topic: string; data: string }[];
  output: string;
  address?: string;
  message?: string;
}

export interface ContractView {
  address: string;
  codeHash: string;
  deployer: string;
  balance: number;
  codeSize: number;
  /** Key (hex) → value (hex), or null when the key is not set. */
  storage: Record<string, string | null>;
}

export interface BlockView {
  height: number;
  hash: string;
  parentHash: string;
  stateRoot: string;
  /** State root after the parent block (what consensus compares across nodes). */
  parentStateRoot: string;
  timestamp: number;
  txCount: number;
  committed: number;
  rejected: number;
}

export interface AccountView {
  publicKey: string;
  balance: number;
  nonce: number;
}

export interface HealthCheck {
  name: string;
  status: 'UP' | 'DOWN';
  data?: Record<string, string | number | boolean>;
}

export interface HealthReport {
  live: HealthCheck[];
  ready: HealthCheck[];
}

export interface CommittedBlockEvent {
  block: BlockView;
  /** 32-byte ids of the block's transactions, concatenated, in block order. */
  txIds: Buffer;
  /** One byte per transaction: 0 committed, else the RejectCode. */
  statuses: Uint8Array;
  /** Receipts of the block's included contract transactions, by position (empty when it has none). */
  receipts?: { index: number; receipt: ReceiptView }[];
}
