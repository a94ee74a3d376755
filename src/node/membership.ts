import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { PeerTransport } from '../network/index.js';
import { ConsensusOrderer } from '../ordering/consensus-orderer.js';
import type { ConsensusStage } from '../ordering/consensus-stage-timer.js';
import { FollowerOrderer } from '../ordering/follower-orderer.js';
import type { SignatureVerifier } from '../pipeline/verify-pool.js';
import { ConsensusStore } from '../storage/consensus-store.js';
import type { LedgerStore } from '../storage/ledger-store.js';
import type { MemberIdentity } from './validator-set.js';

/** A validator's consensus, or a business / slim node's follower: the node's place in a chain of members. */
export type Membership =
  | { kind: 'validator'; orderer: ConsensusOrderer; transport: PeerTransport; store: ConsensusStore; ids: string[] }
  | { kind: 'follower'; orderer: FollowerOrderer; transport: PeerTransport; store: ConsensusStore; ids: string[] };

export interface MembershipDeps {
  config: Config;
  identity: MemberIdentity;
  logger: Logger;
  store: LedgerStore;
  verifier: SignatureVerifier;
  /** Consensus round of the ledger's last block. */
  appliedRound: number;
  /** A peer message dropped, by the peer's member id (hotledger_peer_messages_dropped_total). */
  onPeerDrop: (peer: string, reason: string) => void;
  observeStage: (stage: ConsensusStage, ms: number) => void;
}

/**
 * The transport to the members this node links to, its consensus store, and the orderer its
 * role runs: a validator's ConsensusOrderer, or a follower's FollowerOrderer. `ids` are the
 * validators' ids in index order.
 */
export function createMembership(d: MembershipDeps): Membership {
  const { config, identity, logger } = d;
  const me = identity.links.find((p) => p.index === identity.index)!;
  const validatorIds = config.consensus.validators.map((v) => v.id);
  const memberIds = [...validatorIds, ...config.consensus.followers.map((v) => v.id)];
  const transport = new PeerTransport({
    index: identity.index,
    seed: identity.key.seed,
    validators: identity.links,
    chainId: config.chain.chainId,
    listenHost: me.host,
    listenPort: me.port,
    logger: logger.child({ component: 'transport' }),
    handshakeTimeoutMs: config.network.handshakeTimeoutMs,
    maxPendingHandshakes: config.network.maxPendingHandshakes,
    maxPendingPerAddress: config.network.maxPendingPerAddress,
    maxFrameBytes: config.network.maxFrameBytes,
  });
  const consensusStore = new ConsensusStore(config.node.dataDir, config.storage.mapSizeMb, {
    retainBlocks: config.consensus.storeRetainBlocks,
    onPrunedRead: (height, lowestKept) =>
      logger.warn(
        { height, lowestKept, retainBlocks: config.consensus.storeRetainBlocks },
        'a peer asked for a consensus height this node pruned (consensus.storeRetainBlocks): answered as missing; a node that far behind cannot catch up by sync',
      ),
  });
  const onPeerDrop = (from: number, reason: string) => d.onPeerDrop(memberIds[from] ?? String(from), reason);
  if (identity.role !== 'validator') {
    const orderer = new FollowerOrderer({
      identity,
      chainId: config.chain.chainId,
      timeoutMs: config.consensus.timeoutMs,
      transport,
      store: d.store,
      consensusStore,
      logger: logger.child({ component: 'follower' }),
      appliedRound: d.appliedRound,
      maxBatchTxs: config.pipeline.batchSize,
      verifier: d.verifier,
      onPeerDrop,
    });
    return { kind: 'follower', orderer, transport, store: consensusStore, ids: validatorIds };
  }
  const orderer = new ConsensusOrderer({
    identity,
    chainId: config.chain.chainId,
    timeoutMs: config.consensus.timeoutMs,
    heartbeatMs: config.consensus.heartbeatMs,
    retainCommitted: config.consensus.retainCommitted,
    transport,
    verifier: d.verifier,
    store: d.store,
    consensusStore,
    logger: logger.child({ component: 'consensus' }),
    appliedRound: d.appliedRound,
    observe: d.observeStage,
    maxBatchTxs: config.pipeline.batchSize,
    maxPeerBatches: config.consensus.maxPeerBatches,
    maxPeerBatchBytes: config.consensus.maxPeerBatchMb * 1024 * 1024,
    peerRequestsPerSec: config.consensus.peerRequestsPerSec,
    peerMessagesPerSec: config.consensus.peerMessagesPerSec,
    onPeerDrop,
  });
  return { kind: 'validator', orderer, transport, store: consensusStore, ids: validatorIds };
}
