import { createHash } from 'node:crypto';
import { decodeMessage, encodeMessage, wireLimits } from '../consensus/codec.js';
import { ConsensusCore, type ConsensusOutput } from '../consensus/core.js';
import type { ConsensusCrypto } from '../consensus/crypto.js';
import type { SafetyData } from '../consensus/safety-rules.js';
import { faultTolerance, hex, type Block, type CommittedBlock, type ConsensusMessage, type TimeoutCert } from '../consensus/types.js';
import { Collusion, RecklessRules, byzantineSends, type ByzantineMode } from './byzantine.js';
import { EventQueue } from './event-queue.js';
import { InvariantChecker } from './invariants.js';
import { Prng } from './prng.js';
import { ed25519CryptoSet, idealCryptoSet } from './sim-crypto.js';
import { SimFollowers, type FollowerEv } from './sim-followers.js';
import { genesisBlock, genesisQc } from '../consensus/types.js';
import { ValidatorPayloads, type PayloadOutput } from '../ordering/validator-payloads.js';
import { BatchCertificates, type BatchCertificate, type BatchVote, type CertOutput } from '../ordering/batch-certificates.js';

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
}

type Ev =
  | { kind: 'deliver'; from: number; to: number; msg: ConsensusMessage | Uint8Array }
  | { kind: 'tick'; node: number; version: number }
  | { kind: 'payload'; node: number; digest: Uint8Array }
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
    for (const d of out.release) x.certs?.release(d);
    if (out.timer !== null) {
      x.payloadTimerVersion++;
      q.push(Math.max(out.timer.at, now), { kind: 'payload-tick', node: x.index, version: x.payloadTimerVersion });
    }
  };

  /** Per node: batches offered to the core (certified) and to the payload side (valid here); lost on a crash. */
  const coreOffered = nodes.map(() => new Set<string>());
  const validHere = nodes.map(() => new Set<string>());
  /**
   * A batch is valid here: certified (`toCore`: also proposable and votable) or verified by this
   * node itself (for delivery only), as in ConsensusOrderer.
   */
  const offer = (x: SimNode, d: Uint8Array, toCore: boolean): void => {
    const k = hex(d);
    if (x.core === null || x.payloads === null) return;
    if (toCore && !coreOffered[x.index]!.has(k)) {
      coreOffered[x.index]!.add(k);
      // As ConsensusOrderer.offer: one of a queued committed block is not offered to the core.
      if (options.brokenReoffer === true || !x.payloads.ordered(d)) apply(x, x.core.onPayloadAvailable(d, now));
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
    for (const d of out.mismatch) x.held.delete(hex(d));
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

  const apply = (x: SimNode, out: ConsensusOutput): void => {
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
    // Before the commits, as in ConsensusOrderer: a block's fetch precedes its delivery.
    for (const fp of out.fetchPayload) if (x.payloads !== null) payloadOut(x, x.payloads.fetch(fp.digests, fp.from, now));
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
    for (const [k, d] of x.store) {
      if (x.committedDigests.has(k) || x.core === null || x.payloads === null) continue;
      const c = x.storedCerts.get(k);
      if (c !== undefined && x.certs !== null) certOut(x, x.certs.certificate(c, now));
      batchArrived(x, d, originOf.get(k) ?? -1);
    }
  };

  const allDigests = new Map<string, Uint8Array>();
  const newDigest = (): Uint8Array => {
    const d = new Uint8Array(createHash('sha256').update(`seed ${seed} batch ${digestCounter++}`).digest());
    allDigests.set(hex(d), d);
    return d;
  };

  // Schedule the run: digests throughout, faults only before faultMs.
  const withOrigin = (d: Uint8Array): Uint8Array => {
    originOf.set(hex(d), crng.int(0, n - 1));
    return d;
  };
  for (let t = rng.int(0, 100); t < faultMs; t += rng.int(20, 250)) q.push(t, { kind: 'inject', digest: withOrigin(newDigest()) });
  const lateLoadMs = options.lateLoadMs ?? Math.min(1_000, settleMs / 3);
  for (let t = faultMs + idleMs + 50; t < faultMs + idleMs + lateLoadMs; t += rng.int(50, 250)) {
    const d = withOrigin(newDigest());
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
      case 'payload':
        batchArrived(nodes[ev.node]!, ev.digest, originOf.get(hex(ev.digest)) ?? -1);
        break;
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
          batchArrived(x, d, -1);
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
        certOut(x, x.certs.verified(ev.digest, x.badVerifier || !badDigests.has(hex(ev.digest)), now));
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
      case 'inject':
        // A batch reaches each validator separately; during faults some copies are lost.
        for (const x of nodes) {
          if (now < faultMs && rng.chance(dropP)) continue;
          q.push(now + rng.int(1, maxDelay), { kind: 'payload', node: x.index, digest: ev.digest });
        }
        // The origin holds its own batch (sealed there) whatever the network does.
        if (originOf.has(hex(ev.digest))) q.push(now, { kind: 'payload', node: originOf.get(hex(ev.digest))!, digest: ev.digest });
        break;
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
  };
}

function shuffle<T>(rng: Prng, items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
  return items;
}
