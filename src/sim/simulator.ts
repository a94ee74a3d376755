import { createHash } from 'node:crypto';
import { decodeMessage, encodeMessage, wireLimits } from '../consensus/codec.js';
import { ConsensusCore, type ConsensusOutput } from '../consensus/core.js';
import type { ConsensusCrypto } from '../consensus/crypto.js';
import type { SafetyData } from '../consensus/safety-rules.js';
import { faultTolerance, hex, type Block, type CommittedBlock, type ConsensusMessage, type TimeoutCert } from '../consensus/types.js';
import { Collusion, RecklessRules, byzantineSends, type ByzantineMode } from './byzantine.js';
import { EventQueue } from './event-queue.js';
import { InvariantChecker } from './invariants.js';
import { OriginOrderCheck } from './origin-order.js';
import { Prng } from './prng.js';
import { ed25519CryptoSet, idealCryptoSet } from './sim-crypto.js';
import { SimFollowers, type FollowerEv } from './sim-followers.js';
import { genesisBlock, genesisQc } from '../consensus/types.js';
import { ValidatorPayloads, type PayloadOutput } from '../ordering/validator-payloads.js';
import type { BatchCertificate, BatchVote } from '../ordering/batch-certificate.js';
import { BatchCertificates, type CertOutput } from '../ordering/batch-certificates.js';
import { BatchSequencer, type GapRequest } from '../ordering/batch-sequencer.js';
import { OriginQueues, knownOutcome, type BatchOutcome } from '../ordering/origin-queues.js';

export interface SimOptions {
  validators?: number;
  /** Byzantine validator count; default: seeded, 0..f. Above f is allowed (to show violations). */
  byzantine?: number;
  /** Use libsodium Ed25519 and run every message through the wire codec. */
  realCrypto?: boolean;
  /** Faults (drops, partitions, crashes) happen in [0, faultMs); then the network heals. */
  faultMs?: number;
  /** After healing, fresh digests must commit on every honest node within this window. */
  settleMs?: number;
  timeoutMs?: number;
  heartbeatMs?: number;
  /** Force every Byzantine validator into one behaviour (default: seeded per validator). */
  byzantineMode?: ByzantineMode;
  /** Test-only: honest nodes run a voting rule that approves everything. */
  brokenSafety?: boolean;
  /** Test-only: honest nodes commit on a 1-chain (certified block) instead of a 2-chain. */
  brokenCommitRule?: boolean;
  /** Committed blocks each core keeps in memory (ConsensusConfig.retainCommitted). Default 1000. */
  retainCommitted?: number;
  /**
   * One honest validator (seeded) crashes within the first 200 ms and stays down through the
   * fault phase and the first half of the healed one, so that with a small `retainCommitted` it
   * restarts further behind than any peer keeps in memory.
   */
  longOutage?: boolean;
  /** Test-only: nodes do not serve their stored committed chain (no `committedChain` port). */
  noCommittedChain?: boolean;
  /**
   * A quiet spell between the heal and the post-heal batches: no batches are injected for this
   * long (faults are over). The result counts the empty blocks honest nodes commit meanwhile
   * and how long each post-heal batch then takes to commit everywhere.
   */
  idleMs?: number;
  /** Post-heal batches are injected over this long (default min(1 s, settleMs / 3)); all must commit. */
  lateLoadMs?: number;
  /** Test-only: honest nodes never count a round as busy, so only idle timers end rounds. */
  brokenIdle?: boolean;
  /**
   * Business and slim nodes following the validators (production FollowerCore and FollowerFeed);
   * default: seeded, 1 or 2. They draw from a random stream of their own, so adding them leaves
   * the validators' fault schedule of a seed unchanged.
   */
  followers?: number;
  /** Test-only: followers take every certificate for valid (a follower that trusts one validator's word). */
  brokenFollowerCheck?: boolean;
  /** Test-only: honest validators deliver a committed block to the ledger before all its batches are here. */
  brokenDelivery?: boolean;
  /** Test-only: honest validators always ask the same validator for missing batches (no proposer first, no rotation). */
  brokenFetchRotation?: boolean;
  /** Test-only: a batch of an already committed block is offered to the core again (ConsensusOrderer before the fix). */
  brokenReoffer?: boolean;
  /**
   * Byzantine validators that sign a batch vote for every batch they hold without verifying it, and
   * originate batches holding a bad signature (which their own core proposes). Default: seeded,
   * each Byzantine validator with probability 1/2.
   */
  byzantineVerifiers?: boolean;
  /** Test-only: honest validators take f batch votes for a certificate, one short of f + 1. */
  brokenCertQuorum?: boolean;
  /** Test-only: no certificate requests and no escalation to more verifiers (lost votes are never made up). */
  brokenCertRecovery?: boolean;
  /**
   * Test-only: honest validators offer a batch to the core the moment it is certified, ignoring its
   * origin's queue (as the orderer's 2-timeout give-up did before b9f49fd).
   */
  brokenOriginOrder?: boolean;
  /** Log each crash, partition and commit height to this function. */
  log?: (line: string) => void;
}

export interface SeedResult {
  seed: number;
  validators: number;
  byzantine: { index: number; mode: ByzantineMode }[];
  safetyViolations: number;
  violations: string[];
  livenessFailure: boolean;
  livenessDetail: string | null;
  /** Lowest committed height among honest nodes at the end. */
  commits: number;
  equivocationsDetected: number;
  messages: number;
  crashes: number;
  partitions: number;
  /** Largest gap between a restarting honest node's committed height and the highest honest one. */
  maxRestartLag: number;
  /** Empty blocks honest nodes committed during the idle spell (after its first 2 s), per node at most. */
  idleEmptyBlocks: number;
  /** Rounds the honest nodes advanced through during the idle spell (after its first 2 s), at most. */
  idleRounds: number;
  /** Longest time from injecting a post-heal batch to its commit on the last honest node (ms); -1 if one never commits. */
  maxLateCommitMs: number;
  followers: number;
  /** Runs Byzantine validators forged for followers, and runs followers refused as invalid. */
  forgedRuns: number;
  refusedRuns: number;
  /** Batch requests honest validators sent (ValidatorPayloads), and batches their answers brought. */
  batchRequests: number;
  batchesFetched: number;
  /** Committed blocks an honest validator's ledger had not applied when it crashed, re-queued on restart. */
  requeued: number;
  /** Batches holding a bad signature that Byzantine validators originated (none may commit). */
  badBatches: number;
  /** Verifications honest validators ran (admission of their own batches included), per batch injected. */
  verifiesPerBatch: number;
  /** Batch votes sent, and the share lost on the way (certificate loss). */
  batchVotes: number;
  batchVotesLost: number;
  /** Gaps in an origin's sequence that an honest validator's BatchSequencer skipped (beyond the resend window; its order is not checked across them). */
  sequencerGiveUps: number;
  /** Gap requests (`bn`) honest validators sent, and batches honest validators offered to the core through their origin's queue (each checked for seal order). */
  gapRequests: number;
  queueOffers: number;
  /** Honest origins' batches still queued at an honest validator at the end (a liveness failure: a batch never settled blocks its origin for good). */
  stuckQueues: string[];
}

type Ev =
  | { kind: 'deliver'; from: number; to: number; msg: ConsensusMessage | Uint8Array }
  | { kind: 'tick'; node: number; version: number }
  /** A copy of a batch from its origin (FIFO per link); `boot`: an answer to a gap request of that run of the node. */
  | { kind: 'payload'; node: number; digest: Uint8Array; boot?: number }
  /** A gap request (`bn`) to a batch's origin for its sequence numbers lo..hi, from run `boot` of the asker. */
  | { kind: 'bn'; from: number; to: number; lo: number; hi: number; boot: number }
  | { kind: 'seq-tick'; node: number; version: number }
  | { kind: 'inject'; digest: Uint8Array }
  | { kind: 'crash'; node: number; midOutput: boolean }
  | { kind: 'restart'; node: number }
  | { kind: 'partition'; groups: number[] }
  | { kind: 'heal' }
  | { kind: 'mark'; rounds: Map<number, number> }
  | { kind: 'follower'; ev: FollowerEv }
  /** A batch request (`bq`) and its answer (`br`) between validators, over the same lossy network. */
  | { kind: 'bq'; from: number; to: number; digests: Uint8Array[] }
  | { kind: 'br'; from: number; to: number; digests: Uint8Array[]; certs: BatchCertificate[] }
  /** The ledger applies a delivered block (lost if the node crashed since: `boot` differs). */
  | { kind: 'ledger'; node: number; boot: number; block: Block }
  | { kind: 'payload-tick'; node: number; version: number }
  /** Batch certificates: a vote, a certificate request and its answer, a verification's result, the certificate timer. */
  | { kind: 'bv'; from: number; to: number; vote: BatchVote }
  | { kind: 'cq'; from: number; to: number; digests: Uint8Array[] }
  | { kind: 'cr'; from: number; to: number; certs: BatchCertificate[] }
  | { kind: 'verified'; node: number; boot: number; digest: Uint8Array }
  | { kind: 'cert-tick'; node: number; version: number };

interface SimNode {
  index: number;
  byzantine: ByzantineMode | null;
  core: ConsensusCore | null;
  crypto: ConsensusCrypto;
  persisted: SafetyData | undefined;
  persistedTc: TimeoutCert | null;
  committed: CommittedBlock | undefined;
  committedDigests: Set<string>;
  /** Durable batch store: survives crashes and is re-announced to the core on restart. */
  store: Map<string, Uint8Array>;
  /** Certificates of stored batches, kept with them (the store is durable here, so are they). */
  storedCerts: Map<string, BatchCertificate>;
  /** Durable consensus block store (the core's persistBlocks), pruned at commit. */
  blocks: Map<string, Block>;
  /** Durable committed chain by height: what the node serves to peers' forward sync. */
  chain: Map<number, Block>;
  timerVersion: number;
  crashAfterPersist: boolean;
  /** The production payload side (ValidatorPayloads): commit queue, batch fetch, in-order delivery. */
  payloads: ValidatorPayloads | null;
  /** Batches this run of the node holds in memory (HeldBatches): lost on a crash, unlike `store`. */
  held: Set<string>;
  /** Written with the core's root: committed blocks the ledger may not have applied. */
  unapplied: CommittedBlock[];
  /** The ledger's durable progress: round and height of its last block, and every batch it applied. */
  ledgerRound: number;
  ledgerHeight: number;
  ledgerDigests: Set<string>;
  /** The ledger applies delivered blocks one after another: when it is free. */
  ledgerFreeAt: number;
  boots: number;
  payloadTimerVersion: number;
  /** The production batch certificates (BatchCertificates): in memory, lost on a crash. */
  certs: BatchCertificates | null;
  certTimerVersion: number;
  /** Byzantine only: votes for every batch without verifying, originates bad batches. */
  badVerifier: boolean;
  /** The production BatchSequencer and OriginQueues (digest keys): in memory, lost on a crash. */
  sequencer: BatchSequencer<string> | null;
  queues: OriginQueues<string> | null;
  seqTimerVersion: number;
  seqArmed: boolean;
  /** Core outputs still to process, and whether one is being processed (see `apply`). */
  outputs: ConsensusOutput[];
  applying: boolean;
}

const CHAIN_ID = 7;

export function runSeed(seed: number, options: SimOptions = {}): SeedResult {
  const rng = new Prng(seed);
  const n = options.validators ?? 4;
  const { f } = faultTolerance(n);
  const faultMs = options.faultMs ?? 2_000;
  const settleMs = options.settleMs ?? 6_000;
  const timeoutMs = options.timeoutMs ?? 200;
  const heartbeatMs = options.heartbeatMs ?? 100;
  const idleMs = options.idleMs ?? 0;
  const endMs = faultMs + idleMs + settleMs;
  // The first 2 s after the heal finish the fault phase's leftovers; the rest of the spell is idle.
  const idleFrom = faultMs + 2_000;
  const idleTo = faultMs + idleMs;
  const real = options.realCrypto ?? false;
  const log = options.log;
  const cryptos = real ? ed25519CryptoSet(seed, n) : idealCryptoSet(seed, n);
  const limits = wireLimits(n);
  const q = new EventQueue<Ev>();
  const checker = new InvariantChecker();
  const collusion = new Collusion();

  // Fault profile of this seed.
  const dropP = rng.float() * 0.2;
  const dupP = rng.float() * 0.05;
  const maxDelay = rng.int(5, 60);
  const byzCount = options.byzantine ?? rng.int(0, f);
  const order = shuffle(
    rng,
    Array.from({ length: n }, (_, i) => i),
  );
  const modes: ByzantineMode[] = ['equivocate', 'double-vote', 'silent', 'fork'];
  const byzantine = order.slice(0, byzCount).map((index) => ({ index, mode: options.byzantineMode ?? rng.pick(modes) }));
  const byzOf = new Map(byzantine.map((b) => [b.index, b.mode]));
  // Certificate traffic, batch origins and bad batches draw from a stream of their own.
  const crng = new Prng(seed ^ 0x0ce4_7b17);
  const badVerifiers = new Set(byzantine.filter(() => options.byzantineVerifiers ?? crng.chance(0.5)).map((b) => b.index));
  /** Extra loss of batch votes and certificates in the fault phase, on top of the network's. */
  const voteDropP = crng.float() * 0.3;

  const nodes: SimNode[] = Array.from({ length: n }, (_, i) => ({
    index: i,
    byzantine: byzOf.get(i) ?? null,
    core: null,
    crypto: cryptos[i]!,
    persisted: undefined,
    persistedTc: null,
    committed: undefined,
    committedDigests: new Set(),
    store: new Map(),
    storedCerts: new Map(),
    blocks: new Map(),
    chain: new Map(),
    timerVersion: 0,
    crashAfterPersist: false,
    payloads: null,
    held: new Set(),
    unapplied: [],
    ledgerRound: 0,
    ledgerHeight: 0,
    ledgerDigests: new Set(),
    ledgerFreeAt: 0,
    boots: 0,
    payloadTimerVersion: 0,
    certs: null,
    certTimerVersion: 0,
    badVerifier: badVerifiers.has(i),
    sequencer: null,
    queues: null,
    seqTimerVersion: 0,
    seqArmed: false,
    outputs: [],
    applying: false,
  }));
  // Batch fetch traffic and ledger timing draw from a stream of their own.
  const brng = new Prng(seed ^ 0x0ba7_c4ed);
  /** The committed chain (as honest nodes committed it), to check each ledger's order against. */
  const canonical = new Map<number, Block>();
  const honest = nodes.filter((x) => x.byzantine === null);
  const frng = new Prng(seed ^ 0x0f01_10e5);
  const verifyOnly: ConsensusCrypto = {
    sign: () => {
      throw new Error('a follower never signs');
    },
    verify: (i, m, s) => options.brokenFollowerCheck === true || cryptos[0]!.verify(i, m, s),
  };
  const followers = new SimFollowers({
    count: options.followers ?? frng.int(1, 2),
    validators: n,
    chainId: CHAIN_ID,
    timeoutMs,
    crypto: verifyOnly,
    q,
    rng: frng,
    checker,
    view: {
      alive: (v) => nodes[v]!.core !== null,
      byzantine: (v) => nodes[v]!.byzantine !== null,
      hasBatch: (v, d) => nodes[v]!.store.has(hex(d)),
      isKnownBatch: (d) => allDigests.has(hex(d)),
    },
    genesis: { block: genesisBlock(CHAIN_ID), qc: genesisQc(CHAIN_ID) },
    codec: real,
  });
  let now = 0;
  let healed = false;
  let groupOf: number[] | null = null;
  let messages = 0;
  let equivocations = 0;
  let crashes = 0;
  let partitions = 0;
  let maxRestartLag = 0;
  const lateDigests: Uint8Array[] = [];
  let digestCounter = 0;
  const idleEmpty = new Map<number, number>();
  const roundAtIdleFrom = new Map<number, number>();
  /** Post-heal batches: when injected, and how many honest commits of each are still to come. */
  const roundAfterIdle = new Map<number, number>();
  const lateInjected = new Map<string, number>();
  const lateLeft = new Map<string, Set<number>>();
  let maxLateCommitMs = 0;
  const lateCommit = (k: string, node: number): void => {
    const left = lateLeft.get(k);
    if (left === undefined || !left.delete(node) || left.size > 0) return;
    lateLeft.delete(k);
    maxLateCommitMs = Math.max(maxLateCommitMs, now - lateInjected.get(k)!);
  };

  const makeCore = (x: SimNode): ConsensusCore =>
    new ConsensusCore({
      chainId: CHAIN_ID,
      validators: n,
      self: x.index,
      timeoutMs,
      heartbeatMs,
      crypto: x.crypto,
      safety: x.persisted,
      root: x.committed,
      blocks: [...x.blocks.values()],
      highTc: x.persistedTc,
      retainCommitted: options.retainCommitted,
      committedChain: options.noCommittedChain ? undefined : { get: (h) => x.chain.get(h) },
      votingRules: x.byzantine !== null || options.brokenSafety ? (d) => new RecklessRules(d) : undefined,
      unsafeAlwaysIdle: x.byzantine === null && options.brokenIdle === true,
      unsafeOneChainCommit: x.byzantine === null && options.brokenCommitRule === true,
    });

  const transmit = (from: number, to: number, msg: ConsensusMessage): void => {
    messages++;
    if (msg.type === 'proposal') collusion.blocks.set(hex(msg.proposal.block.hash), msg.proposal.block);
    if (!healed) {
      if (groupOf !== null && groupOf[from] !== groupOf[to]) return;
      if (rng.chance(dropP)) return;
    }
    const wire: ConsensusMessage | Uint8Array = real ? encodeMessage(msg) : msg;
    const delay = healed ? rng.int(1, 10) : rng.int(1, maxDelay);
    q.push(now + delay, { kind: 'deliver', from, to, msg: wire });
    if (!healed && rng.chance(dupP)) q.push(now + rng.int(1, maxDelay), { kind: 'deliver', from, to, msg: wire });
  };

  let batchRequests = 0;
  let batchesFetched = 0;
  let requeued = 0;
  const transmitBatches = (kind: 'bq' | 'br', from: number, to: number, digests: Uint8Array[], certs?: BatchCertificate[]): void => {
    if (kind === 'bq' && nodes[from]!.byzantine === null) batchRequests++;
    if (!healed) {
      if (groupOf !== null && groupOf[from] !== groupOf[to]) return;
      if (brng.chance(dropP)) return;
    }
    const ev: Ev = kind === 'br' ? { kind, from, to, digests, certs: certs ?? [] } : { kind, from, to, digests };
    q.push(now + (healed ? brng.int(1, 10) : brng.int(1, maxDelay)), ev);
    if (!healed && brng.chance(dupP)) q.push(now + brng.int(1, maxDelay), ev);
  };

  /** The ledger's order: each block once, in commit order, none with payload skipped, all its batches held. */
  const checkLedger = (x: SimNode, b: Block): void => {
    const canon = canonical.get(b.height);
    if (canon === undefined || hex(canon.hash) !== hex(b.hash)) checker.onAlarm(x.index, `ledger applied a block at height ${b.height} that is not the committed one`);
    if (b.round <= x.ledgerRound || b.height <= x.ledgerHeight) {
      checker.onAlarm(x.index, `ledger applied height ${b.height} (round ${b.round}) again or out of order (ledger at height ${x.ledgerHeight}, round ${x.ledgerRound})`);
      return;
    }
    for (let h = x.ledgerHeight + 1; h < b.height; h++) {
      const skipped = canonical.get(h);
      if (skipped === undefined || skipped.payload.length > 0) checker.onAlarm(x.index, `ledger skipped committed height ${h} (applied ${b.height} after ${x.ledgerHeight})`);
    }
  };

  const payloadOut = (x: SimNode, out: PayloadOutput): void => {
    for (const r of out.requests) transmitBatches('bq', x.index, r.to, r.digests);
    if (out.persistUnapplied !== undefined) x.unapplied = out.persistUnapplied;
    for (const d of out.deliver) {
      const lacking = d.digests.filter((g) => !x.held.has(hex(g))).length;
      if (lacking > 0 && x.byzantine === null) checker.onAlarm(x.index, `delivered height ${d.block.height} to the ledger without ${lacking}/${d.digests.length} of its batches`);
      const forged = d.digests.filter((g) => badDigests.has(hex(g))).length;
      if (forged > 0 && x.byzantine === null) checker.onAlarm(x.index, `delivered height ${d.block.height} with ${forged} batch(es) holding a bad signature`);
      x.ledgerFreeAt = Math.max(x.ledgerFreeAt, now + brng.int(0, maxDelay));
      q.push(x.ledgerFreeAt, { kind: 'ledger', node: x.index, boot: x.boots, block: d.block });
    }
    for (const d of out.release) {
      x.certs?.release(d);
      // Its block is delivered: its origin's later batches wait for it no longer.
      settle(x, hex(d), 'dropped');
      proposed[x.index]!.delete(hex(d));
    }
    if (out.timer !== null) {
      x.payloadTimerVersion++;
      q.push(Math.max(out.timer.at, now), { kind: 'payload-tick', node: x.index, version: x.payloadTimerVersion });
    }
  };

  /** Per node: batches offered to the core (certified) and to the payload side (valid here); lost on a crash. */
  const coreOffered = nodes.map(() => new Set<string>());
  const validHere = nodes.map(() => new Set<string>());
  /** Per node, as ConsensusOrderer.proposed: batches whose order a block fixed, offered the moment they are certified. */
  const proposed = nodes.map(() => new Set<string>());
  let gapRequests = 0;

  /**
   * Offers a certified batch to the core, once (ConsensusOrderer.offerToCore). `inQueue`: released
   * by its origin's queue, so checked against the origin's seal order.
   */
  const coreOffer = (x: SimNode, k: string, inQueue: boolean): void => {
    if (x.core === null || x.payloads === null || coreOffered[x.index]!.has(k)) return;
    coreOffered[x.index]!.add(k);
    const d = allDigests.get(k)!;
    // As ConsensusOrderer.offerToCore: one of a queued committed block is not offered to the core.
    if (options.brokenReoffer !== true && x.payloads.ordered(d)) return;
    if (inQueue) originOrder.offered(x.index, k);
    apply(x, x.core.onPayloadAvailable(d, now));
  };

  const settle = (x: SimNode, k: string, outcome: BatchOutcome): void => {
    if (x.queues !== null) for (const o of x.queues.settle(k, outcome)) coreOffer(x, o, true);
  };

  /** As ConsensusOrderer.enqueue (the same rule, knownOutcome): the outcome is pushed with the batch when known already. */
  const enqueue = (x: SimNode, origin: number, k: string): void => {
    const { queues, certs } = x;
    if (queues === null || certs === null) return;
    const d = allDigests.get(k)!;
    const known = knownOutcome({
      offered: () => coreOffered[x.index]!.has(k),
      ordered: () => options.brokenReoffer !== true && (x.ledgerDigests.has(k) || x.payloads?.ordered(d) === true),
      // A copy is held from its arrival on, while it is verified too.
      held: () => x.held.has(k),
      refused: () => certs.refused(d),
      certified: () => certs.certified(d),
    });
    for (const o of queues.push(origin, k, known)) coreOffer(x, o, true);
  };

  /** The sequencer released these keys of `origin`, in order: each joins its origin's queue. */
  const released = (x: SimNode, origin: number, keys: string[]): void => {
    for (const k of keys) {
      originOrder.released(x.index, origin, k);
      enqueue(x, origin, k);
    }
  };

  const armSequencer = (x: SimNode): void => {
    if (x.seqArmed || x.sequencer === null) return;
    x.seqArmed = true;
    q.push(now + Math.max(50, Math.floor(timeoutMs / 4)), { kind: 'seq-tick', node: x.index, version: x.seqTimerVersion });
  };

  /** A gap request to the origin, over the same lossy network as the batches. */
  const askAgain = (x: SimNode, r: GapRequest): void => {
    if (x.byzantine === null) gapRequests++;
    if (!healed && ((groupOf !== null && groupOf[x.index] !== groupOf[r.origin]) || srng.chance(dropP))) return;
    q.push(now + (healed ? srng.int(1, 10) : srng.int(1, maxDelay)), { kind: 'bn', from: x.index, to: r.origin, lo: r.from, hi: r.to, boot: x.boots });
  };

  /** A batch copy from its origin went through the node's sequencer: what it releases joins the origin's queue. */
  const sequence = (x: SimNode, k: string): void => {
    const origin = originOf.get(k);
    const seq = seqOf.get(k);
    if (x.sequencer === null || origin === undefined || seq === undefined) return;
    const r = x.sequencer.receive(origin, { boot: 1, seq, item: k });
    if (r.request) askAgain(x, r.request);
    released(x, origin, r.release);
    if (r.release.length === 0) armSequencer(x);
  };

  /**
   * A batch is valid here: certified (`toCore`: also proposable and votable, offered in its
   * origin's order) or verified by this node itself (for delivery only), as in ConsensusOrderer.
   */
  const offer = (x: SimNode, d: Uint8Array, toCore: boolean): void => {
    const k = hex(d);
    if (x.core === null || x.payloads === null) return;
    if (toCore) {
      // A bad verifier offers everything at once; the broken switch offers on certification, as the old give-up let it.
      if (x.badVerifier || (x.byzantine === null && options.brokenOriginOrder === true)) coreOffer(x, k, true);
      else {
        if (proposed[x.index]!.has(k)) coreOffer(x, k, false);
        settle(x, k, 'certified');
      }
    }
    if (x.payloads !== null && !validHere[x.index]!.has(k)) {
      validHere[x.index]!.add(k);
      payloadOut(x, x.payloads.batchAvailable(d, now));
    }
  };

  let verifications = 0;
  let batchVotes = 0;
  let batchVotesLost = 0;
  const transmitCert = (ev: Extract<Ev, { kind: 'bv' | 'cq' | 'cr' }>): void => {
    if (ev.kind === 'bv') batchVotes++;
    if (!healed && ((groupOf !== null && groupOf[ev.from] !== groupOf[ev.to]) || crng.chance(dropP) || crng.chance(voteDropP))) {
      if (ev.kind === 'bv') batchVotesLost++;
      return;
    }
    q.push(now + (healed ? crng.int(1, 10) : crng.int(1, maxDelay)), ev);
  };

  const certOut = (x: SimNode, out: CertOutput): void => {
    for (const v of out.votes) for (let i = 0; i < n; i++) if (i !== x.index) transmitCert({ kind: 'bv', from: x.index, to: i, vote: v });
    for (const r of out.requests) transmitCert({ kind: 'cq', from: x.index, to: r.to, digests: r.digests });
    for (const d of out.verify) {
      verifications++;
      q.push(now + crng.int(1, 20), { kind: 'verified', node: x.index, boot: x.boots, digest: d });
    }
    for (const d of out.mismatch) {
      x.held.delete(hex(d));
      settle(x, hex(d), 'dropped');
    }
    for (const f of out.fetch) if (x.payloads !== null) payloadOut(x, x.payloads.fetch([f.digest], f.from, now));
    for (const d of out.certified) {
      const c = x.certs?.certificateOf(d);
      if (c !== undefined) x.storedCerts.set(hex(d), c);
      offer(x, d, true);
    }
    for (const d of out.verifiedHere) offer(x, d, false);
    if (out.timer !== null && x.certs !== null) {
      x.certTimerVersion++;
      q.push(Math.max(out.timer.at, now), { kind: 'cert-tick', node: x.index, version: x.certTimerVersion });
    }
  };

  /** Batches Byzantine validators originate holding a bad signature: none may commit or execute. */
  const badDigests = new Set<string>();
  /** The validator that originated (admitted and verified) each batch. */
  const originOf = new Map<string, number>();

  /**
   * A copy of a batch is here (a peer's broadcast, an answer to a request, or the origin's own): it
   * is stored, and valid only once certified (or verified here). A bad verifier takes everything.
   */
  const batchArrived = (x: SimNode, d: Uint8Array, origin: number): void => {
    const k = hex(d);
    x.store.set(k, d);
    if (x.core === null || x.payloads === null || x.certs === null || x.held.has(k)) return;
    // As ConsensusOrderer.offer: a batch in the ledger is dropped.
    if (x.ledgerDigests.has(k) && options.brokenReoffer !== true) return;
    x.held.add(k);
    if (x.badVerifier) offer(x, d, true);
    const own = x.index === origin && !badDigests.has(k);
    if (x.certs !== null) certOut(x, x.certs.held(d, d, origin, now, own || x.badVerifier));
    if (own) verifications++; // its admission verify
  };

  /**
   * The core's outputs are processed strictly one after another, as ConsensusOrderer.handle chains
   * them: one produced while another is processed (a batch its commit let out of an origin's queue
   * offered to the core) waits for it, or its commits and timer would overtake the outer ones.
   */
  const apply = (x: SimNode, out: ConsensusOutput): void => {
    x.outputs.push(out);
    if (x.applying) return;
    x.applying = true;
    for (let o = x.outputs.shift(); o !== undefined; o = x.outputs.shift()) {
      applyOne(x, o);
      // Crashed meanwhile: the rest is lost with the process.
      if (x.core === null) x.outputs.length = 0;
    }
    x.applying = false;
  };

  const applyOne = (x: SimNode, out: ConsensusOutput): void => {
    // Persist first: a crash after this point loses the sends but never the safety data.
    if (out.persist !== undefined) x.persisted = out.persist;
    if (out.persistTc !== undefined) x.persistedTc = out.persistTc;
    for (const b of out.persistBlocks) x.blocks.set(hex(b.hash), b);
    if (x.crashAfterPersist) {
      x.crashAfterPersist = false;
      crash(x);
      return;
    }
    if (x.byzantine !== null) {
      for (const s of byzantineSends(x.byzantine, x.index, n, CHAIN_ID, x.crypto, out.send, rng, collusion)) transmit(x.index, s.to, s.msg);
    } else {
      for (const s of out.send) {
        if (s.to === 'all') for (let i = 0; i < n; i++) i !== x.index && transmit(x.index, i, s.msg);
        else transmit(x.index, s.to, s.msg);
      }
    }
    // Before the commits, as in ConsensusOrderer: a block's fetch precedes its delivery. A proposal
    // fixed these batches' order: each goes to the core once certified, in no origin's queue.
    for (const fp of out.fetchPayload) {
      for (const d of fp.digests) {
        proposed[x.index]!.add(hex(d));
        if (x.held.has(hex(d)) && x.certs?.certified(d)) coreOffer(x, hex(d), false);
      }
      if (x.payloads !== null) payloadOut(x, x.payloads.fetch(fp.digests, fp.from, now));
    }
    for (const c of out.commits) {
      if (x.byzantine === null && now >= idleFrom && now < idleTo && c.block.payload.length === 0) idleEmpty.set(x.index, (idleEmpty.get(x.index) ?? 0) + 1);
      if (x.byzantine === null) for (const d of c.block.payload) lateCommit(hex(d), x.index);
      x.committed = c;
      x.chain.set(c.block.height, c.block);
      for (const [k, b] of x.blocks) if (b.height <= c.block.height) x.blocks.delete(k);
      for (const d of c.block.payload) x.committedDigests.add(hex(d));
      if (x.byzantine === null) {
        for (const d of c.block.payload) if (badDigests.has(hex(d))) checker.onAlarm(x.index, `committed height ${c.block.height} with a batch holding a bad signature`);
        checker.onCommit(x.index, c.block);
        if (!canonical.has(c.block.height)) canonical.set(c.block.height, c.block);
      }
    }
    // Written with the root (x.committed): the unapplied list comes out of the same call.
    if (out.commits.length > 0 && x.payloads !== null) payloadOut(x, x.payloads.committed(out.commits, now));
    // As ConsensusOrderer: a committed batch is never offered again, so its origin's queue goes on.
    if (options.brokenReoffer !== true) for (const c of out.commits) for (const d of c.block.payload) settle(x, hex(d), 'dropped');
    if (out.commits.length > 0) followers.committed(x.index, out.commits, out.commitProof, now, healed, dropP);
    for (const e of out.events) {
      if (e.type === 'equivocation') {
        equivocations++;
        if (nodes[e.validator]?.byzantine === null) checker.onAlarm(x.index, `honest validator ${e.validator} equivocated (${e.kind}, round ${e.round})`);
      }
      if (e.type === 'conflicting-commit' && x.byzantine === null) checker.onAlarm(x.index, `conflicting commit ${e.blockHash.slice(0, 12)}`);
    }
    if (out.timer !== null) {
      x.timerVersion++;
      q.push(Math.max(out.timer.at, now), { kind: 'tick', node: x.index, version: x.timerVersion });
    }
  };

  const crash = (x: SimNode): void => {
    x.core = null;
    x.payloads = null;
    x.certs = null;
    x.certTimerVersion++;
    x.sequencer = null;
    x.queues = null;
    x.seqTimerVersion++;
    x.seqArmed = false;
    originOrder.crashed(x.index);
    proposed[x.index]!.clear();
    coreOffered[x.index]!.clear();
    validHere[x.index]!.clear();
    x.held.clear();
    x.timerVersion++;
    x.payloadTimerVersion++;
    // Blocks handed to the ledger but not yet applied are lost with the process.
    x.boots++;
    for (const y of nodes) if (y !== x && y.payloads !== null) payloadOut(y, y.payloads.peerDown(x.index, now));
    crashes++;
    followers.validatorCrashed(x.index, now);
    log?.(`${now}ms: node ${x.index} crashed (committed height ${x.committed?.block.height ?? 0})`);
  };

  const boot = (x: SimNode): void => {
    if (x.byzantine === null) maxRestartLag = Math.max(maxRestartLag, Math.max(...honest.map((y) => checker.heightOf(y.index))) - checker.heightOf(x.index));
    x.core = makeCore(x);
    if (x.byzantine === null) requeued += x.unapplied.filter((c) => c.block.round > x.ledgerRound).length;
    x.payloads = new ValidatorPayloads({
      self: x.index,
      timeoutMs,
      appliedRound: x.ledgerRound,
      unapplied: x.unapplied,
      unsafeDeliverIncomplete: x.byzantine === null && options.brokenDelivery === true,
      unsafeNoRotation: x.byzantine === null && options.brokenFetchRotation === true,
    });
    x.certs = new BatchCertificates({
      chainId: CHAIN_ID,
      validators: n,
      self: x.index,
      crypto: x.crypto,
      escalateMs: Math.max(50, Math.floor(timeoutMs / 4)),
      unsafeQuorum: x.byzantine === null && options.brokenCertQuorum === true ? Math.max(1, f) : undefined,
      unsafeNoRecovery: x.byzantine === null && options.brokenCertRecovery === true,
    });
    // As ConsensusOrderer: gaps are asked for again until they fill, never given up on a timer.
    x.sequencer = new BatchSequencer<string>(64);
    x.queues = new OriginQueues<string>();
    x.ledgerFreeAt = now;
    for (const y of nodes) {
      if (y === x || y.core === null || y.payloads === null) continue;
      payloadOut(x, x.payloads.peerUp(y.index, now));
      payloadOut(y, y.payloads.peerUp(x.index, now));
    }
    followers.validatorBooted(x.index, x.committed?.block.height ?? 0, now);
    apply(x, x.core.start(now));
    // Uncommitted batches are announced again; those of committed-but-unapplied blocks are not
    // (a restarted node holds none in memory): they must be fetched from peers.
    // With the certificates stored beside them; one never formed here is asked for again, or the batch verified again.
    // In each origin's seal order through the new sequencer (committed ones too, as settled), so
    // that it starts at the first and no stored batch passes behind a later one.
    const stored = [...x.store.keys()].sort((a, b) => (originOf.get(a) ?? -1) - (originOf.get(b) ?? -1) || (seqOf.get(a) ?? 0) - (seqOf.get(b) ?? 0));
    for (const k of stored) {
      if (x.core === null || x.payloads === null) break;
      if (!x.committedDigests.has(k)) {
        const c = x.storedCerts.get(k);
        if (c !== undefined && x.certs !== null) certOut(x, x.certs.certificate(c, now));
        batchArrived(x, x.store.get(k)!, originOf.get(k) ?? -1);
      }
      sequence(x, k);
    }
  };

  const allDigests = new Map<string, Uint8Array>();
  const newDigest = (): Uint8Array => {
    const d = new Uint8Array(createHash('sha256').update(`seed ${seed} batch ${digestCounter++}`).digest());
    allDigests.set(hex(d), d);
    return d;
  };

  /** Each origin's batches numbered in injection order (its seal order), and back from the number. */
  const seqOf = new Map<string, number>();
  const bySeq = nodes.map(() => new Map<number, string>());
  /** The origin-order invariant, fed the sequencers' releases and the queues' offers (`released`, `coreOffer`, `crash`). */
  const originOrder = new OriginOrderCheck({
    validators: n,
    byzantine: (i) => nodes[i]!.byzantine !== null,
    originOf,
    seqOf,
    alarm: (node, what) => checker.onAlarm(node, what),
  });
  /** Per link (origin * n + to): when its last batch copy arrives. Copies of one link arrive in order, as over TCP. */
  const linkAt = new Array<number>(n * n).fill(0);
  const sendCopy = (origin: number, to: number, d: Uint8Array, at: number, boot?: number): void => {
    const link = origin * n + to;
    linkAt[link] = Math.max(at, linkAt[link]!);
    q.push(linkAt[link]!, boot === undefined ? { kind: 'payload', node: to, digest: d } : { kind: 'payload', node: to, digest: d, boot });
  };
  /** Gap requests and their answers draw from a stream of their own. */
  const srng = new Prng(seed ^ 0x05e9_ba7c);

  // Schedule the run: digests throughout, faults only before faultMs.
  const withOrigin = (d: Uint8Array): Uint8Array => {
    originOf.set(hex(d), crng.int(0, n - 1));
    return d;
  };
  for (let t = rng.int(0, 100); t < faultMs; t += rng.int(20, 250)) q.push(t, { kind: 'inject', digest: withOrigin(newDigest()) });
  const lateLoadMs = options.lateLoadMs ?? Math.min(1_000, settleMs / 3);
  // Post-heal batches, which must commit everywhere, come from honest origins: a Byzantine origin
  // that never answers gap requests holds its later batches behind its gaps at honest validators
  // (BatchSequencer gives no gap up on a timer), as a faulty validator may drop its clients' txs.
  const honestOrigins = nodes.filter((x) => x.byzantine === null).map((x) => x.index);
  for (let t = faultMs + idleMs + 50; t < faultMs + idleMs + lateLoadMs; t += rng.int(50, 250)) {
    const d = newDigest();
    originOf.set(hex(d), honestOrigins[crng.int(0, honestOrigins.length - 1)]!);
    lateDigests.push(d);
    lateInjected.set(hex(d), t);
    lateLeft.set(hex(d), new Set(honest.map((x) => x.index)));
    q.push(t, { kind: 'inject', digest: d });
  }
  // Bad verifiers originate batches holding a bad signature all through the run.
  for (const b of badVerifiers) {
    // Not in idle scenarios: a Byzantine leader proposing its bad batch makes the others' rounds
    // busy (its block awaits a QC), which an idle run's round count would take for a pacemaker bug.
    for (let t = crng.int(0, 200); idleMs === 0 && t < faultMs + lateLoadMs; t += crng.int(100, 400)) {
      const d = newDigest();
      badDigests.add(hex(d));
      originOf.set(hex(d), b);
      q.push(t, { kind: 'inject', digest: d });
    }
  }
  if (idleMs > 0) {
    q.push(idleFrom, { kind: 'mark', rounds: roundAtIdleFrom });
    q.push(idleTo, { kind: 'mark', rounds: roundAfterIdle });
  }
  const crashCount = rng.int(0, 3);
  for (let i = 0; i < crashCount && honest.length > 0; i++) {
    const x = rng.pick(honest);
    const at = rng.int(0, faultMs - 200);
    q.push(at, { kind: 'crash', node: x.index, midOutput: rng.chance(0.5) });
    q.push(Math.min(faultMs - 1, at + rng.int(50, 1_500)), { kind: 'restart', node: x.index });
  }
  const partitionCount = rng.int(0, 2);
  for (let i = 0; i < partitionCount; i++) {
    const at = rng.int(0, faultMs - 300);
    q.push(at, { kind: 'partition', groups: nodes.map(() => rng.int(0, 1)) });
    q.push(Math.min(faultMs - 1, at + rng.int(100, 1_000)), { kind: 'heal' });
  }
  // Its seeded restarts and the heal's reboot are skipped: only its own restart brings it back.
  const outage = options.longOutage && honest.length > 0 ? rng.pick(honest).index : -1;
  const outageEnd = faultMs + Math.floor(settleMs / 2);
  if (outage >= 0) {
    q.push(rng.int(0, 200), { kind: 'crash', node: outage, midOutput: false });
    q.push(outageEnd, { kind: 'restart', node: outage });
  }
  q.push(faultMs, { kind: 'heal' });

  for (const x of nodes) boot(x);
  followers.start(now, faultMs);

  for (;;) {
    const e = q.pop();
    if (e === undefined || e.at > endMs) break;
    now = e.at;
    const ev = e.item;
    switch (ev.kind) {
      case 'deliver': {
        const x = nodes[ev.to]!;
        if (x.core === null) break;
        const msg = ev.msg instanceof Uint8Array ? decodeMessage(ev.msg, limits) : ev.msg;
        apply(x, x.core.onMessage(ev.from, msg, now));
        break;
      }
      case 'tick': {
        const x = nodes[ev.node]!;
        if (x.core !== null && ev.version === x.timerVersion) apply(x, x.core.onTick(now));
        break;
      }
      case 'payload': {
        const x = nodes[ev.node]!;
        // An answer to a gap request of an earlier run of the node: its link is gone with it.
        if (ev.boot !== undefined && ev.boot !== x.boots) break;
        batchArrived(x, ev.digest, originOf.get(hex(ev.digest)) ?? -1);
        sequence(x, hex(ev.digest));
        break;
      }
      case 'bn': {
        // Answered from the origin's durable batch store; Byzantine origins never answer.
        const y = nodes[ev.to]!;
        if (y.core === null || y.byzantine !== null) break;
        for (let s = ev.lo; s <= ev.hi; s++) {
          const k = bySeq[y.index]!.get(s);
          if (k === undefined || !y.store.has(k)) continue;
          if (!healed && ((groupOf !== null && groupOf[y.index] !== groupOf[ev.from]) || srng.chance(dropP))) continue;
          sendCopy(y.index, ev.from, y.store.get(k)!, now + (healed ? srng.int(1, 10) : srng.int(1, maxDelay)), ev.boot);
        }
        break;
      }
      case 'seq-tick': {
        const x = nodes[ev.node]!;
        if (x.sequencer === null || ev.version !== x.seqTimerVersion) break;
        x.seqArmed = false;
        for (const r of x.sequencer.tick().requests) askAgain(x, r);
        if (x.sequencer !== null && x.sequencer.gaps().length > 0) armSequencer(x);
        break;
      }
      case 'bq': {
        // Byzantine validators never serve batches: the asker must move on to another.
        const y = nodes[ev.to]!;
        if (y.core === null || y.byzantine !== null) break;
        const held = ev.digests.filter((d) => y.store.has(hex(d)));
        const certs = held.map((d) => y.certs?.certificateOf(d)).filter((c) => c !== undefined);
        if (held.length > 0) transmitBatches('br', y.index, ev.from, held, certs);
        break;
      }
      case 'br': {
        const x = nodes[ev.to]!;
        for (const d of ev.digests) {
          // Unsolicited answers are dropped, as in ConsensusOrderer.
          if (x.payloads === null || !allDigests.has(hex(d)) || !x.payloads.wanted(d)) continue;
          if (x.byzantine === null && !x.held.has(hex(d))) batchesFetched++;
          const cert = ev.certs.find((c) => hex(c.digest) === hex(d));
          if (cert !== undefined && x.certs !== null) certOut(x, x.certs.certificate(cert, now));
          // Of a block (its order fixed): offered once certified, in no origin's queue.
          proposed[x.index]!.add(hex(d));
          batchArrived(x, d, -1);
          if (x.held.has(hex(d)) && x.certs?.certified(d)) coreOffer(x, hex(d), false);
        }
        break;
      }
      case 'bv': {
        const y = nodes[ev.to]!;
        if (y.certs !== null) certOut(y, y.certs.vote(ev.from, ev.vote, now));
        break;
      }
      case 'cq': {
        // Byzantine validators never hand over certificates.
        const y = nodes[ev.to]!;
        if (y.certs === null || y.byzantine !== null) break;
        const certs = ev.digests.map((d) => y.certs!.certificateOf(d)).filter((c) => c !== undefined);
        if (certs.length > 0) transmitCert({ kind: 'cr', from: y.index, to: ev.from, certs });
        break;
      }
      case 'cr': {
        const x = nodes[ev.to]!;
        for (const c of ev.certs) if (x.certs !== null) certOut(x, x.certs.certificate(c, now));
        break;
      }
      case 'verified': {
        const x = nodes[ev.node]!;
        if (ev.boot !== x.boots || x.certs === null) break;
        const ok = x.badVerifier || !badDigests.has(hex(ev.digest));
        certOut(x, x.certs.verified(ev.digest, ok, now));
        // Refused here (ConsensusOrderer: dropped, its sender quarantined): skipped in its origin's queue.
        if (!ok) settle(x, hex(ev.digest), 'dropped');
        break;
      }
      case 'cert-tick': {
        const x = nodes[ev.node]!;
        if (x.certs !== null && ev.version === x.certTimerVersion) certOut(x, x.certs.onTick(now));
        break;
      }
      case 'ledger': {
        const x = nodes[ev.node]!;
        if (ev.boot !== x.boots) break;
        if (x.byzantine === null) checkLedger(x, ev.block);
        x.ledgerRound = Math.max(x.ledgerRound, ev.block.round);
        x.ledgerHeight = Math.max(x.ledgerHeight, ev.block.height);
        for (const d of ev.block.payload) x.ledgerDigests.add(hex(d));
        if (x.payloads !== null) payloadOut(x, x.payloads.applied(ev.block.round, now));
        break;
      }
      case 'payload-tick': {
        const x = nodes[ev.node]!;
        if (x.payloads !== null && ev.version === x.payloadTimerVersion) payloadOut(x, x.payloads.onTick(now));
        break;
      }
      case 'inject': {
        // Numbered in its origin's seal order; the origin holds its own batch (sealed there) whatever the network does.
        const k = hex(ev.digest);
        const origin = originOf.get(k)!;
        seqOf.set(k, bySeq[origin]!.size);
        bySeq[origin]!.set(bySeq[origin]!.size, k);
        sendCopy(origin, origin, ev.digest, now);
        // A batch reaches each validator separately; during faults some copies are lost.
        for (const x of nodes) {
          if (now < faultMs && rng.chance(dropP)) continue;
          sendCopy(origin, x.index, ev.digest, now + rng.int(1, maxDelay));
        }
        break;
      }
      case 'crash': {
        const x = nodes[ev.node]!;
        if (x.core === null) break;
        if (ev.midOutput) x.crashAfterPersist = true;
        else crash(x);
        break;
      }
      case 'restart': {
        const x = nodes[ev.node]!;
        x.crashAfterPersist = false;
        if (x.core !== null || (x.index === outage && now < outageEnd)) break;
        log?.(`${now}ms: node ${x.index} restarts from persisted safety data (lastVotedRound ${x.persisted?.lastVotedRound ?? 0})`);
        boot(x);
        break;
      }
      case 'follower':
        followers.handle(ev.ev, now, healed, dropP);
        break;
      case 'mark':
        for (const x of honest) ev.rounds.set(x.index, x.core?.status().round ?? 0);
        break;
      case 'partition':
        groupOf = ev.groups;
        partitions++;
        log?.(`${now}ms: partition ${ev.groups.join('')}`);
        break;
      case 'heal':
        groupOf = null;
        if (now >= faultMs) {
          healed = true;
          for (const x of nodes) {
            x.crashAfterPersist = false;
            if (x.core === null && x.index !== outage) boot(x);
          }
          followers.healed(now);
          log?.(`${now}ms: network healed; heights ${honest.map((x) => checker.heightOf(x.index)).join(',')}`);
        }
        break;
    }
  }

  /** Honest origins' batches still queued at honest validators at the end (a queue never settled blocks its origin for good). */
  const stuck: string[] = [];
  for (const x of honest) {
    for (const w of x.queues?.waiting() ?? [])
      if (nodes[w.origin]!.byzantine === null) {
        const d = allDigests.get(w.head)!;
        const state = `held ${x.held.has(w.head)}, certified ${x.certs?.certified(d)}, committed ${x.committedDigests.has(w.head)}, applied ${x.ledgerDigests.has(w.head)}`;
        stuck.push(`node ${x.index}: ${w.queued} of origin ${w.origin} behind its batch ${seqOf.get(w.head)} (${state})`);
      }
  }
  // Counted before the late batches' rounds: the idle spell ends when they are injected.
  const idleRounds = Math.max(0, ...honest.map((x) => (roundAfterIdle.get(x.index) ?? 0) - (roundAtIdleFrom.get(x.index) ?? 0)));
  const missing: string[] = [];
  for (const x of honest) {
    const lost = lateDigests.filter((d) => !x.committedDigests.has(hex(d))).length;
    if (lost > 0) missing.push(`node ${x.index} lacks ${lost}/${lateDigests.length} post-heal batches (height ${checker.heightOf(x.index)})`);
    else {
      const unapplied = lateDigests.filter((d) => !x.ledgerDigests.has(hex(d))).length;
      if (unapplied > 0)
        missing.push(
          `node ${x.index} committed but never applied ${unapplied}/${lateDigests.length} post-heal batches (ledger height ${x.ledgerHeight}, ${x.payloads?.queued ?? 0} blocks queued)`,
        );
    }
  }
  missing.push(...followers.missing(lateDigests));
  missing.push(...stuck.map((w) => `origin queue blocked at the end: ${w}`));
  for (const x of honest) log?.(`node ${x.index} status ${JSON.stringify(x.core?.status())} persisted lastVoted ${x.persisted?.lastVotedRound}`);
  log?.(`end: heights ${honest.map((x) => checker.heightOf(x.index)).join(',')}, ${messages} messages, ${equivocations} equivocations detected`);
  return {
    seed,
    validators: n,
    byzantine,
    safetyViolations: checker.violations.length,
    violations: checker.violations,
    livenessFailure: missing.length > 0,
    livenessDetail: missing.length > 0 ? missing.join('; ') : null,
    commits: Math.min(...honest.map((x) => checker.heightOf(x.index))),
    equivocationsDetected: equivocations,
    messages,
    crashes,
    partitions,
    maxRestartLag,
    idleEmptyBlocks: Math.max(0, ...idleEmpty.values()),
    idleRounds,
    maxLateCommitMs: lateLeft.size > 0 || lateInjected.size === 0 ? -1 : maxLateCommitMs,
    followers: followers.count,
    forgedRuns: followers.forgedRuns,
    refusedRuns: followers.invalidRunsSeen,
    batchRequests,
    batchesFetched,
    requeued,
    badBatches: badDigests.size,
    verifiesPerBatch: verifications / Math.max(1, allDigests.size - badDigests.size),
    batchVotes,
    batchVotesLost,
    sequencerGiveUps: originOrder.sequencerGiveUps,
    gapRequests,
    queueOffers: originOrder.queueOffers,
    stuckQueues: stuck,
  };
}

function shuffle<T>(rng: Prng, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
