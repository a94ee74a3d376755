import { pino } from 'pino';
import { ConsensusOrderer, type ConsensusOrdererOptions, type PeerDropReason } from '../../src/ordering/consensus-orderer.js';
import type { OrderedBlock } from '../../src/ordering/orderer.js';
import { devnetFollowerKey, devnetValidatorKey } from '../../src/node/validator-set.js';
import { VerifyPool } from '../../src/pipeline/verify-pool.js';
import { LedgerStore } from '../../src/storage/ledger-store.js';
import { ConsensusStore } from '../../src/storage/consensus-store.js';
import type { PeerTransport } from '../../src/network/index.js';
import { tempDir } from './fixtures.js';
import { txId } from '../../src/tx/codec.js';
import { TX_ID_SIZE, TX_SIZE } from '../../src/tx/layout.js';
import { txRootOf } from '../../src/chain/block-header.js';

export const HARNESS_CHAIN = 5;

/** A transport that records what the orderer sends and lets the test deliver peer messages. */
export function fakeTransport(maxMessageBytes = 64 * 1024 * 1024) {
  const sent: { to: number | 'all'; msg: Record<string, unknown> }[] = [];
  let handler: ((from: number, msg: unknown) => void) | undefined;
  const upHandlers: ((i: number) => void)[] = [];
  const t = {
    maxMessageBytes,
    onMessage: (fn: (from: number, msg: unknown) => void) => ((handler = fn), () => undefined),
    send: (to: number, msg: unknown) => (sent.push({ to, msg: msg as Record<string, unknown> }), true),
    broadcast: (msg: unknown) => (sent.push({ to: 'all', msg: msg as Record<string, unknown> }), 3),
    onPeerUp: (fn: (i: number) => void) => (upHandlers.push(fn), () => undefined),
    onPeerDown: () => () => undefined,
    isConnected: () => true,
    connectedPeers: (only?: (i: number) => boolean) => [0, 2, 3, 4].filter((i) => !only || only(i)),
  };
  return {
    transport: t as unknown as PeerTransport,
    sent,
    deliver: (from: number, msg: unknown) => handler!(from, msg),
    /** Tells the orderer that peer `i` connected. */
    peerUp: (i: number) => {
      for (const fn of upHandlers) fn(i);
    },
  };
}

export interface OrdererHarness {
  o: ConsensusOrderer;
  net: ReturnType<typeof fakeTransport>;
  drops: { from: number; reason: PeerDropReason }[];
  /** Blocks the orderer handed to the pipeline (the test plays the ledger: `o.applied` when it likes). */
  delivered: OrderedBlock[];
  close(): Promise<void>;
}

/**
 * Validator 1 of 4 with a real verify pool and real LMDB stores; the peer transport is replaced by a
 * recorder so a test can play any peer, byte for byte, and see every answer.
 */
export async function ordererHarness(
  opts: Partial<ConsensusOrdererOptions> & {
    maxMessageBytes?: number;
    /** Writes to the stores before the orderer opens them (a restart's state). */
    before?: (stores: { store: LedgerStore; consensusStore: ConsensusStore }) => Promise<void>;
  } = {},
): Promise<OrdererHarness> {
  const dir = tempDir();
  const peers = [0, 1, 2, 3].map((i) => ({ index: i, publicKey: devnetValidatorKey(HARNESS_CHAIN, i).publicKey, host: '127.0.0.1', port: 1 }));
  // Member 4 is a follower (a business node): it may subscribe, ask for batches and send its own.
  const followers = [{ index: 4, publicKey: devnetFollowerKey(HARNESS_CHAIN, 0).publicKey, host: '127.0.0.1', port: 1 }];
  const store = new LedgerStore({ path: dir.path, mapSizeMb: 64 });
  const consensusStore = new ConsensusStore(dir.path, 64);
  const verifier = new VerifyPool({ threads: 1, chunkSize: 4096 });
  const net = fakeTransport(opts.maxMessageBytes);
  const drops: OrdererHarness['drops'] = [];
  const delivered: OrderedBlock[] = [];
  await opts.before?.({ store, consensusStore });
  const o = new ConsensusOrderer({
    identity: { role: 'validator', index: 1, key: devnetValidatorKey(HARNESS_CHAIN, 1), validators: peers, followers, links: [...peers, ...followers] },
    chainId: HARNESS_CHAIN,
    timeoutMs: 60_000,
    heartbeatMs: 30_000,
    transport: net.transport,
    verifier,
    store,
    consensusStore,
    logger: pino({ level: 'silent' }),
    appliedRound: 0,
    maxBatchTxs: 100_000,
    maxPeerBatches: 64,
    maxPeerBatchBytes: 128 * 1024 * 1024,
    peerRequestsPerSec: 50,
    peerMessagesPerSec: 2_000,
    onPeerDrop: (from, reason) => drops.push({ from, reason }),
    ...opts,
  });
  o.start((b) => delivered.push(b));
  return {
    o,
    net,
    drops,
    delivered,
    close: async () => {
      o.stop();
      await verifier.close();
      await store.close();
      await consensusStore.close();
      dir.remove();
    },
  };
}

/** The digest a batch of these transfers travels under (the root of its transaction ids), as the orderer computes it. */
export const digestOf = (txs: Buffer): Uint8Array => {
  const ids = Buffer.alloc((txs.length / TX_SIZE) * TX_ID_SIZE);
  for (let i = 0; i < txs.length / TX_SIZE; i++) txId(txs, i * TX_SIZE).copy(ids, i * TX_ID_SIZE);
  return txRootOf(ids);
};
