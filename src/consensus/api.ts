import type { ConsensusCrypto } from './crypto.js';
import type { LeaderElection } from './leader-election.js';
import type { SafetyData, VotingRules } from './safety-rules.js';
import type { Block, CommittedBlock, ConsensusMessage, Hash, TimeoutCert } from './types.js';
import type { EquivocationEvent } from './vote-aggregator.js';

/** The public contract of ConsensusCore: what goes in at construction, what comes out of a call. */

/**
 * Read-only view of the node's own committed chain, for serving forward sync beyond the
 * BlockTree's in-memory window. Synchronous so the core stays a pure state machine; returns
 * undefined for any height it cannot read (never stored, pruned, unreadable).
 */
export interface CommittedChainReader {
  get(height: number): Block | undefined;
}

export interface ConsensusConfig {
  chainId: number;
  /** Validator count n; indices are 0..n-1. */
  validators: number;
  /** This validator's index. */
  self: number;
  timeoutMs: number;
  /** Delay of an empty block that only announces a commit (see docs/consensus.md, "Idle"). */
  heartbeatMs: number;
  /**
   * Round timer while the node has nothing to order: idle rounds end (by a TC, not counted as a
   * failure) this often. Default IDLE_TIMEOUT_FACTOR × timeoutMs.
   */
  idleTimeoutMs?: number;
  crypto: ConsensusCrypto;
  /**
   * Default 2: the round timeout grows to at most 4 × timeoutMs. Kept low because with round-robin
   * leaders, k silent validators make up to 2k consecutive rounds fail every rotation.
   */
  maxBackoffExponent?: number;
  /** Most batch digests per block. Default 64. */
  maxPayloadDigests?: number;
  /**
   * Votes and timeouts for rounds more than this far above the current one are dropped (their
   * certificates are still used). Default DEFAULT_FUTURE_ROUND_WINDOW.
   */
  futureRoundWindow?: number;
  /** Committed blocks kept in memory to serve sync. Default 1000. */
  retainCommitted?: number;
  /**
   * Older committed blocks, to answer peers' sync-requests beyond `retainCommitted`. Without it
   * a peer further behind than the in-memory window can only catch up from other validators.
   */
  committedChain?: CommittedChainReader;
  leaderElection?: LeaderElection;
  /** Restore: exactly what the environment last persisted. */
  safety?: SafetyData;
  /** Restore: the last committed block and its certifying QC. Default genesis. */
  root?: CommittedBlock;
  /** Restore: the uncommitted blocks the environment stored from `persistBlocks`, any order. */
  blocks?: Block[];
  /** Restore: the last `persistTc` the environment stored. */
  highTc?: TimeoutCert | null;
  /** Test hook: replace the voting rule (e.g. with a deliberately broken one). */
  votingRules?: (data: SafetyData) => VotingRules;
  /** Test-only fault injection: never count a round as busy (breaks liveness under load). */
  unsafeAlwaysIdle?: boolean;
  /** Test-only fault injection: commit on a 1-chain. Unsafe; never set it in a node. */
  unsafeOneChainCommit?: boolean;
}

export type ConsensusEvent =
  | EquivocationEvent
  | { type: 'invalid'; from: number; reason: string }
  | { type: 'local-timeout'; round: number }
  /** A certified 2-chain conflicts with our committed chain: more than f are Byzantine. */
  | { type: 'conflicting-commit'; blockHash: string };

export interface ConsensusOutput {
  /** Write durably BEFORE sending anything in `send`. */
  persist?: SafetyData;
  /**
   * Blocks to store durably, also BEFORE sending; hand them back as `blocks` on restart and drop
   * those at or below the committed height. Without them, a QC'd block could exist only in the
   * memory of nodes that all crashed, and no leader could ever extend it again.
   */
  persistBlocks: Block[];
  /**
   * The highest TC, to store (overwrite) with `persist`. Not needed for safety, but a TC known
   * only to nodes that then crash could otherwise never be rebuilt: they will not re-sign
   * timeouts for a round below their last voted round, and the others stay a quorum short.
   */
  persistTc?: TimeoutCert;
  /** 'all' means every validator except this one. */
  send: { to: number | 'all'; msg: ConsensusMessage }[];
  /** Newly committed blocks in height order, each with the QC that certifies it. */
  commits: CommittedBlock[];
  /**
   * With `commits`: the last one's certified child (round + 1) and that child's QC. Together with
   * the last commit's own QC it proves the commit to a follower (src/ordering/commit-proof.ts).
   */
  commitProof?: CommittedBlock;
  /** Batches to obtain; report each with onPayloadAvailable. */
  fetchPayload: { digests: Hash[]; from: number }[];
  /** Call onTick at this time; replaces any earlier timer. */
  timer: { at: number } | null;
  events: ConsensusEvent[];
}

/** Default idle round timer, in multiples of timeoutMs (60 s at the default 1 s timeout). */
export const IDLE_TIMEOUT_FACTOR = 60;

/** Rounds above the current one whose votes and timeouts are kept (see docs/consensus.md). */
export const DEFAULT_FUTURE_ROUND_WINDOW = 8;

/** Sizes of what the core holds per round or per peer (`ConsensusCore.memoryFootprint()`). */
export interface ConsensusFootprint {
  round: number;
  voteRounds: number;
  votes: number;
  timeoutRounds: number;
  timeouts: number;
  /** (round, validator) pairs with remembered vote/proposal hashes (equivocation evidence). */
  seen: number;
  /** Block tree: uncommitted blocks plus the retained committed window. */
  blocks: number;
  parked: number;
  orphans: number;
  inflight: number;
  timeoutRoundOf: number;
  verifiedCerts: number;
}

export interface ConsensusStatusView {
  round: number;
  leader: number;
  committedHeight: number;
  committedHash: string;
  highQc: { round: number; blockHash: string; votes: number };
  equivocations: number;
}
