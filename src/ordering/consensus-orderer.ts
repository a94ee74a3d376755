import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import {
  ConsensusCore,
  Ed25519ConsensusCrypto,
  decodeMessage,
  encodeMessage,
  hex,
  decodeBlock,
  decodeCommittedBlock,
  decodeSafetyData,
  decodeTimeoutCert,
  encodeBlock,
  encodeCommittedBlock,
  encodeSafetyData,
  encodeTimeoutCert,
  maxMessageBytes,
  wireLimits,
  type Block,
  type ConsensusOutput,
  type ConsensusStatusView,
  type WireLimits,
} from '../consensus/index.js';
import { txRootOf } from '../chain/block-header.js';
import type { PeerTransport } from '../network/index.js';
import type { OrderedBlock, Orderer, VerifiedBatch } from './orderer.js';
import type { SignatureVerifier } from '../pipeline/verify-pool.js';
import type { ConsensusStore } from '../storage/consensus-store.js';
import type { LedgerStore } from '../storage/ledger-store.js';
import { TX_ID_SIZE } from '../tx/layout.js';
import { KeyedLimiter } from '../limits/token-bucket.js';
import type { MemberIdentity } from '../node/validator-set.js';
import { BatchSequencer, type GapRequest } from './batch-sequencer.js';
import { OriginQueues, knownOutcome, type BatchOutcome } from './origin-queues.js';
import { ConsensusStageTimer, type ConsensusStage } from './consensus-stage-timer.js';
import { BatchServer } from './batch-server.js';
import { HeldBatches } from './held-batches.js';
import { PeerBatchIntake, type IntakeDrop } from './peer-batch-intake.js';
import { FollowerFeed } from './follower-feed.js';
import { parsePeerMessage, sendPeerMessage, type PeerMessage, type PeerWireLimits } from './peer-wire.js';
import { batchContentHash, certFromWire, certToWire } from './batch-certificate.js';
import { BatchCertificates, type CertOutput } from './batch-certificates.js';
import { ValidatorPayloads, type PayloadOutput } from './validator-payloads.js';

const SAFETY_KEY = 'consensus/safety';
const BLOCKS_KEY = 'consensus/blocks';
const ROOT_KEY = 'consensus/root';
const TC_KEY = 'consensus/high-tc';
/** Committed blocks with payload that the ledger may not have applied yet (written with ROOT_KEY). */
const UNAPPLIED_KEY = 'consensus/unapplied';

export interface ConsensusOrdererOptions {
  identity: MemberIdentity;
  /** Validators that verify each batch on arrival (BatchCertificates.designated): f + 1 unless set (up to n). */
  batchVerifiers?: number;
  chainId: number;
  timeoutMs: number;
  heartbeatMs: number;
  /** Committed blocks the core keeps in memory (older ones are served from the consensus store). */
  retainCommitted?: number;
  transport: PeerTransport;
  verifier: SignatureVerifier;
  /** The ledger: batches of applied blocks are served from it to lagging peers. */
  store: LedgerStore;
  /** Safety data, high TC, uncommitted blocks and the committed root. */
  consensusStore: ConsensusStore;
  logger: Logger;
  /** Consensus round of the last block in the ledger: commits at or below it are already applied. */
  appliedRound: number;
  /** Stage timings (hotledger_stage_seconds): propose, commit, safety_fsync. */
  observe?: (stage: ConsensusStage, ms: number) => void;
  /** Largest batch an honest origin seals (pipeline.batchSize). */
  maxBatchTxs: number;
  /** Per origin: batches and bytes being verified or held unordered (consensus.maxPeerBatches / maxPeerBatchBytes). */
  maxPeerBatches: number;
  maxPeerBatchBytes: number;
  /** Batch and sync requests a peer may make per second (consensus.peerRequestsPerSec); burst twice that. */
  peerRequestsPerSec: number;
  /** Consensus messages a peer may send per second (consensus.peerMessagesPerSec); burst twice that. */
  peerMessagesPerSec: number;
  /** A peer message dropped: malformed, faulty batch, over a bound (hotledger_peer_messages_dropped_total). */
  onPeerDrop?: (from: number, reason: PeerDropReason) => void;
}

export type PeerDropReason = IntakeDrop | 'malformed' | 'request-rate' | 'message-rate' | 'unsendable' | 'not-for-role';

/**
 * A validator's ordering stage: runs the sans-I/O HotStuff core with real I/O around it. Local
 * batches are broadcast to every validator and offered for proposal by digest; committed blocks
 * are delivered in order once all their batches are here. Safety data and uncommitted blocks are
 * written durably BEFORE any message of the same output is sent, so a restart cannot double-vote.
 */
export class ConsensusOrderer implements Orderer {
  private readonly core: ConsensusCore;
  private deliver: ((block: OrderedBlock) => void) | undefined;
  /** Batches by digest hex, local or received, until their block is applied. */
  private readonly payloads = new HeldBatches();
  private readonly uncommitted = new Map<string, Block>();
  /**
   * Commit queue, in-order delivery, batch fetching and the committed-but-unapplied list
   * (UNAPPLIED_KEY): the sans-I/O part the simulator runs too. This class only does its I/O.
   */
  private readonly payloadSide: ValidatorPayloads;
  private payloadTimer: { at: number; handle: NodeJS.Timeout } | undefined;
  private outputs: Promise<void> = Promise.resolve();
  /**
   * Per origin, its batches (digest hex) in seal order, as the sequencer releases them: each is
   * offered to the core once certified and after every earlier one was offered or dropped.
   * Verification and certificates finish in any order, and a later batch proposed first has its
   * senders' later nonces rejected at execution. Every way a queued batch leaves this node settles
   * it (certified, refused, dropped, in the ledger, released), or its origin's queue blocks for good.
   */
  private readonly queues = new OriginQueues<string>();
  /** Peers' batches: verified once, dropped whole if one tx is invalid, bounded per origin. */
  private readonly intake: PeerBatchIntake;
  /**
   * Batch certificates: f+1 validators' signed "verified and stored" per batch. A batch reaches the
   * core only once certified; a validator that is not among its designated verifiers holds it
   * unverified (`unproven`) until then.
   */
  private readonly certs: BatchCertificates;
  /** Peers' batches held without their signatures checked here, until certified (or verified here after all). */
  private readonly unproven = new HeldBatches();
  /** Certified batches offered to the core (once each). */
  private readonly offeredToCore = new Set<string>();
  /**
   * Batches whose order consensus fixed (a proposal named them, or fetched by `br` for a committed
   * block): offered the moment they are certified, in no origin's queue.
   */
  private readonly proposed = new Set<string>();
  private certTimer: { at: number; handle: NodeJS.Timeout } | undefined;
  private readonly requestLimiter: KeyedLimiter<number>;
  private readonly messageLimiter: KeyedLimiter<number>;
  private readonly wire: WireLimits;
  private readonly peerLimits: PeerWireLimits;
  /** When each peer's last drop was logged: a flood is counted in full but logged once a second. */
  private readonly dropLogged = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  equivocations = 0;
  viewChanges = 0;
  private batchResponses = 0;
  /** Peers' batches back in their seal order (a batch lost on a dropped connection is asked for again). */
  private readonly sequencer: BatchSequencer<string>;
  private sequencerTimer: NodeJS.Timeout | undefined;
  /** Own batches out to every peer, gaps filled again, batches served by digest. */
  private readonly server: BatchServer;
  private readonly stages: ConsensusStageTimer | undefined;
  /** Business and slim nodes following this validator's commits. */
  private readonly feed: FollowerFeed;
  /** Validators are members 0..n-1; members from n on are followers. */
  private readonly n: number;
  private readonly isValidator = (i: number): boolean => i < this.n;

  constructor(private readonly o: ConsensusOrdererOptions) {
    const ids = o.identity;
    this.n = ids.validators.length;
    // Data dirs from before the consensus store kept these records in the ledger's meta: read
    // them from there until the first write, or a restart would forget the last voted round.
    const legacy = o.consensusStore.empty;
    const get = <T>(key: string): T | undefined => (legacy ? o.store.getMeta<T>(key) : o.consensusStore.get<T>(key));
    // Stored with the consensus codec: decoding validates every field and recomputes block hashes.
    const read = <T>(key: string, decode: (b: Uint8Array) => T): T | undefined => {
      const bytes = get<Uint8Array>(key);
      return bytes ? decode(bytes) : undefined;
    };
    const safety = read(SAFETY_KEY, decodeSafetyData);
    const blocks = (get<Uint8Array[]>(BLOCKS_KEY) ?? []).map((b) => decodeBlock(b));
    const root = read(ROOT_KEY, decodeCommittedBlock);
    const highTc = read(TC_KEY, decodeTimeoutCert);
    for (const b of blocks) this.uncommitted.set(hex(b.hash), b);
    this.sequencer = new BatchSequencer(o.maxPeerBatches);
    this.server = new BatchServer({
      held: this.payloads,
      store: o.store,
      send: (to, m) => this.sendTo(to, m),
      maxMessageBytes: () => o.transport.maxMessageBytes,
      logger: o.logger,
      certificateOf: (d) => {
        const c = this.certs.certificateOf(d);
        return c && certToWire(c);
      },
    });
    this.wire = wireLimits(ids.validators.length);
    this.peerLimits = { maxBatchTxs: o.maxBatchTxs, maxConsensusBytes: maxMessageBytes(this.wire) };
    this.requestLimiter = new KeyedLimiter(o.peerRequestsPerSec, 2 * o.peerRequestsPerSec, ids.links.length);
    this.messageLimiter = new KeyedLimiter(o.peerMessagesPerSec, 2 * o.peerMessagesPerSec, ids.links.length);
    this.intake = new PeerBatchIntake({
      chainId: o.chainId,
      verifier: o.verifier,
      held: this.payloads,
      unproven: this.unproven,
      maxBatchesPerOrigin: o.maxPeerBatches,
      maxBytesPerOrigin: o.maxPeerBatchBytes,
      onDrop: (from, reason, detail) => this.dropped(from, reason, detail),
    });
    this.stages = o.observe && new ConsensusStageTimer(o.observe);
    this.payloadSide = new ValidatorPayloads({
      self: ids.index,
      timeoutMs: o.timeoutMs,
      appliedRound: o.appliedRound,
      unapplied: (get<Uint8Array[]>(UNAPPLIED_KEY) ?? []).map((b) => decodeCommittedBlock(b)),
      // A batch held for its certificate is not asked for again: the certificate is (or the batch is verified here).
      verifying: (key) => this.intake.isVerifying(key) || this.unproven.has(key),
    });
    // Committed blocks beyond the core's memory, for peers' forward sync. A record that does not
    // decode is served as missing: the asking peer moves on to another validator.
    const committedChain = {
      get: (height: number): Block | undefined => {
        try {
          const bytes = o.consensusStore.getCommittedBlock(height);
          return bytes ? decodeCommittedBlock(bytes).block : undefined;
        } catch (e) {
          o.logger.warn({ height, err: (e as Error).message }, 'unreadable stored consensus block');
          return undefined;
        }
      },
    };
    const crypto = new Ed25519ConsensusCrypto(
      ids.key.seed,
      ids.validators.map((p) => p.publicKey),
    );
    // Certificates are asked for every timeoutMs/4; one more validator verifies after 4 round
    // timeouts without one, then one more per timeout (a saturated verify pool can hold an honest
    // verifier's vote back for seconds: escalating after one timeout made bench:cluster verify
    // 2.9-3.1 times per tx instead of 2).
    this.certs = new BatchCertificates({
      chainId: o.chainId,
      validators: this.n,
      self: ids.index,
      crypto,
      escalateMs: Math.max(50, Math.floor(o.timeoutMs / 4)),
      firstEscalation: 16,
      designated: o.batchVerifiers,
    });
    this.core = new ConsensusCore({
      chainId: o.chainId,
      validators: ids.validators.length,
      self: ids.index,
      timeoutMs: o.timeoutMs,
      heartbeatMs: o.heartbeatMs,
      crypto,
      safety,
      blocks,
      root,
      highTc,
      committedChain,
      retainCommitted: o.retainCommitted,
    });
    this.feed = new FollowerFeed({ stored: (h) => o.consensusStore.getCommittedBlock(h), rootHeight: this.core.status().committedHeight });
  }

  start(deliver: (block: OrderedBlock) => void): void {
    this.deliver = deliver;
    this.o.transport.onMessage((from, msg) => this.onPeer(from, msg));
    this.o.transport.onPeerUp((member) => {
      if (!this.isValidator(member)) return;
      this.onPayload(this.payloadSide.peerUp(member, Date.now()));
      this.onCerts(this.certs.peerLink(member, true, Date.now()));
    });
    this.o.transport.onPeerDown((member) => {
      this.feed.drop(member);
      if (this.isValidator(member)) {
        this.onPayload(this.payloadSide.peerDown(member, Date.now()));
        this.onCerts(this.certs.peerLink(member, false, Date.now()));
      }
    });
    for (const v of this.o.transport.connectedPeers(this.isValidator)) this.onPayload(this.payloadSide.peerUp(v, Date.now()));
    this.sequencerTimer = setInterval(() => this.sequencerTick(), Math.max(50, Math.floor(this.o.timeoutMs / 4)));
    this.sequencerTimer.unref();
    this.handle(this.core.start(Date.now()));
  }

  submit(vb: VerifiedBatch): void {
    const digest = txRootOf(vb.batch.ids.subarray(0, vb.batch.count * TX_ID_SIZE));
    vb.digest = digest;
    this.payloads.set(hex(digest), vb);
    this.stages?.submitted(digest);
    const txs = vb.batch.txs;
    // Encoded (copied) now: the batch buffer is transferred to the ledger thread once ordered.
    this.server.broadcast(digest, txs);
    // Verified at admission: this validator is the first of its batch's verifiers and votes at once;
    // the core gets the batch once f others have voted (in seal order, behind earlier own batches).
    const self = this.o.identity.index;
    this.enqueue(self, hex(digest));
    this.onCerts(this.certs.held(digest, batchContentHash(txs), self, Date.now(), true));
  }

  applied(stateRoot: Uint8Array, round: number): void {
    this.core.setStateRoot(stateRoot);
    this.onPayload(this.payloadSide.applied(round, Date.now()));
  }

  status(): ConsensusStatusView {
    return this.core.status();
  }

  /** Whether a batch was offered to the core (certified, and its origin's earlier batches before it). */
  offeredToConsensus(digest: Uint8Array): boolean {
    return this.offeredToCore.has(hex(digest));
  }

  /** Batches held in memory: valid here (`held`) and waiting for a certificate (`unproven`). Each leaves once its block is applied. */
  heldBatches(): { held: number; unproven: number } {
    return { held: this.payloads.size, unproven: this.unproven.size };
  }

  stop(): void {
    this.stopped = true;
    this.deliver = undefined;
    if (this.timer) clearTimeout(this.timer);
    if (this.payloadTimer) clearTimeout(this.payloadTimer.handle);
    if (this.certTimer) clearTimeout(this.certTimer.handle);
    if (this.sequencerTimer) clearInterval(this.sequencerTimer);
  }

  private onPeer(from: number, raw: unknown): void {
    if (this.stopped) return;
    let msg: PeerMessage;
    try {
      msg = parsePeerMessage(raw, this.peerLimits);
    } catch (e) {
      this.dropped(from, 'malformed', (e as Error).message);
      return;
    }
    // A follower subscribes, asks for batches and (a business node) sends its own; nothing else.
    if (!this.isValidator(from) ? msg.k !== 'fs' && msg.k !== 'bq' && msg.k !== 'b' : msg.k === 'fs' || msg.k === 'fc') return this.dropped(from, 'not-for-role', msg.k);
    try {
      switch (msg.k) {
        case 'fs':
          if (!this.requestLimiter.take(from, Date.now())) return this.dropped(from, 'request-rate', 'fs');
          for (const f of this.feed.subscribe(from, msg.h, msg.l)) this.sendTo(f.to, { k: 'fc', c: f.records, ...(f.proof ? { p: f.proof } : {}) });
          return;
        case 'fc':
          return;
        case 'c': {
          // Every consensus message costs a decode and, often, signature checks on this thread: a
          // peer flooding validly signed ones must not starve the rounds (an honest one sends a few
          // per round).
          if (!this.messageLimiter.take(from, Date.now())) return this.dropped(from, 'message-rate');
          const m = decodeMessage(msg.m, this.wire);
          // Serving sync costs store reads and bandwidth: a peer gets a bounded rate of it.
          if ((m.type === 'sync-request' || m.type === 'blocks-request') && !this.requestLimiter.take(from, Date.now())) {
            this.dropped(from, 'request-rate', m.type);
            return;
          }
          this.handle(this.core.onMessage(from, m, Date.now()));
          return;
        }
        case 'b': {
          // Verification starts at once (in parallel) where this validator is one of the batch's
          // designated verifiers; elsewhere the batch is held for its certificate. Offering waits
          // for the origin's order (the sequencer, then the origin's queue).
          const txs = Buffer.from(msg.txs);
          const known = PeerBatchIntake.identify(txs);
          const key = hex(known.digest);
          const verify = this.certs.designated(known.digest, this.isValidator(from) ? from : -1);
          const taken = this.intake.take(from, txs, { known, verify });
          // No room for this origin now: as if lost in transit. The sequencer sees the gap when a
          // later batch comes and asks for it again; offering a later one first would break the
          // origin's nonce order (its senders' later nonces committed before the earlier ones).
          if ('full' in taken) return;
          // Held (and voted for) as soon as taken in: a designated verifier's vote must not wait for
          // a gap in the origin's sequence to fill, or every validator's certificate would.
          void taken.verifying.then(
            (b) => (b ? this.hold(b) : this.settleIfGone(key)),
            (e: unknown) => {
              this.o.logger.warn({ from, err: (e as Error).message }, 'peer batch failed');
              this.settleIfGone(key);
            },
          );
          if (msg.i === undefined || msg.n === undefined) return this.enqueue(from, key);
          const r = this.sequencer.receive(from, { boot: msg.i, seq: msg.n, item: key });
          if (r.request) this.askAgain(r.request);
          for (const k of r.release) this.enqueue(from, k);
          return;
        }
        case 'bn':
          if (!this.requestLimiter.take(from, Date.now())) return this.dropped(from, 'request-rate', 'bn');
          this.server.resend(from, msg.i, msg.f, msg.t);
          return;
        case 'br':
          // Requested batches are already in blocks, whose order consensus fixed: no queueing
          // behind this peer's broadcasts (a lagging node would never get through its backlog).
          this.batchResponses++;
          for (const t of msg.txs) {
            const txs = Buffer.from(t);
            const known = PeerBatchIntake.identify(txs);
            const key = hex(known.digest);
            if (!this.payloadSide.wanted(known.digest)) {
              this.dropped(from, 'unsolicited', key);
              continue;
            }
            // With the server's certificate the batch is not verified here; without one (served from
            // a ledger, its certificate forgotten) a batch of a committed block is verified at once.
            const cert = msg.c?.find((c) => hex(c.d) === key);
            if (cert) this.onCerts(this.certs.certificate(certFromWire(cert), Date.now()));
            const verify = cert === undefined && (this.payloadSide.ordered(known.digest) || this.certs.designated(known.digest, from));
            const taken = this.intake.take(from, txs, { known, solicited: true, verify });
            if ('full' in taken) continue; // asked for again by the next fetch
            // Of a block (its order is fixed): offered when certified, in no origin's queue.
            void taken.verifying.then(
              (b) => {
                if (!b) return this.settleIfGone(key);
                // Marked after hold: a copy not held (its block delivered meanwhile) must leave no mark.
                if (!this.hold(b)) return;
                this.proposed.add(key);
                this.offerToCore(known.digest);
              },
              (e: unknown) => {
                this.o.logger.warn({ from, err: (e as Error).message }, 'requested batch failed');
                this.settleIfGone(key);
              },
            );
          }
          return;
        case 'bv':
          if (!this.messageLimiter.take(from, Date.now())) return this.dropped(from, 'message-rate', 'bv');
          this.onCerts(this.certs.vote(from, { digest: msg.d, content: msg.h, signer: from, sig: msg.s }, Date.now()));
          return;
        case 'cq': {
          if (!this.requestLimiter.take(from, Date.now())) return this.dropped(from, 'request-rate', 'cq');
          const certs = msg.d.map((d) => this.certs.certificateOf(d)).filter((c) => c !== undefined);
          if (certs.length > 0) this.sendTo(from, { k: 'cr', c: certs.map(certToWire) });
          return;
        }
        case 'cr':
          if (!this.messageLimiter.take(from, Date.now())) return this.dropped(from, 'message-rate', 'cr');
          for (const c of msg.c) this.onCerts(this.certs.certificate(certFromWire(c), Date.now()));
          return;
        case 'bq':
          // Charged by size: a request for 64 batches costs what 4 small ones do.
          if (!this.requestLimiter.take(from, Date.now(), Math.ceil(msg.d.length / 16))) return this.dropped(from, 'request-rate', 'bq');
          this.server.serve(from, msg.d);
          return;
      }
    } catch (e) {
      this.dropped(from, 'malformed', (e as Error).message);
    }
  }

  /** Counts every dropped peer message; logs at most one per peer per second. */
  private dropped(from: number, reason: PeerDropReason, detail?: string): void {
    this.o.onPeerDrop?.(from, reason);
    const now = Date.now();
    if ((this.dropLogged.get(from) ?? 0) + 1_000 > now) return;
    this.dropLogged.set(from, now);
    const faulty = reason === 'static-rule' || reason === 'bad-signature' || reason === 'malformed';
    this.o.logger.warn({ from, reason, detail }, faulty ? 'peer sent an invalid message: it is faulty' : 'dropped a peer message');
  }

  private sequencerTick(): void {
    if (this.stopped) return;
    for (const r of this.sequencer.tick().requests) this.askAgain(r);
  }

  private askAgain(r: GapRequest): void {
    this.sendTo(r.origin, { k: 'bn', i: r.boot, f: r.from, t: r.to });
  }

  /**
   * Appends a batch to its origin's queue (in seal order), with its outcome if known already
   * (certified and held, offered; committed or in the ledger, so never offered; or gone from this
   * node before its turn came: refused, quarantined, dropped by intake), and offers what that frees.
   */
  private enqueue(origin: number, key: string): void {
    const d = Buffer.from(key, 'hex');
    const known = knownOutcome({
      offered: () => this.offeredToCore.has(key),
      ordered: () => this.payloadSide.ordered(d) || this.o.store.getBatchLocation(d) !== undefined,
      held: () => this.holds(key),
      refused: () => this.certs.refused(d),
      certified: () => this.payloads.has(key) && this.certs.certified(d),
    });
    this.offerAll(this.queues.push(origin, key, known));
  }

  /** Held here (verified or not) or being verified: its outcome is still to come. */
  private holds(key: string): boolean {
    return this.payloads.has(key) || this.unproven.has(key) || this.intake.isVerifying(key);
  }

  /** A copy was refused, quarantined or dropped by intake: if no other copy holds the key, it is gone. */
  private settleIfGone(key: string): void {
    if (!this.stopped && !this.holds(key)) this.settle(key, 'dropped');
  }

  private settle(key: string, outcome: BatchOutcome): void {
    this.offerAll(this.queues.settle(key, outcome));
  }

  private offerAll(keys: string[]): void {
    for (const k of keys) this.offerToCore(Buffer.from(k, 'hex'));
  }

  /**
   * Holds a peer's batch (verified here or not) for its certificate. Its origin's queue is settled
   * when it is certified or gone. Returns whether the batch is held here now (this copy or another).
   */
  private hold(vb: VerifiedBatch): boolean {
    const d = vb.digest!;
    const key = hex(d);
    if (this.stopped) return false;
    // Held already (another copy, or this node's own batch): that one settles it.
    if (this.payloads.has(key) || this.unproven.has(key)) return true;
    // A late copy, needed neither for a proposal nor for a delivery: its block was delivered (its
    // batches released then, so a copy held now would never be released), or is in the ledger.
    if (this.payloadSide.delivered(d) || this.o.store.getBatchLocation(d) !== undefined) {
      this.settle(key, 'dropped');
      return false;
    }
    this.unproven.set(key, vb);
    const origin = vb.origin !== undefined && this.isValidator(vb.origin) ? vb.origin : -1;
    this.onCerts(this.certs.held(d, batchContentHash(vb.batch.txs), origin, Date.now(), vb.signaturesChecked !== false));
    return true;
  }

  /**
   * A certified batch goes to the core, once. A batch of a block committed already (fetched for a
   * block re-queued after a restart, or a late copy) is for delivery only: offered to a restarted
   * core, which no longer knows it was ordered, it would be proposed again and every round this
   * node leads would fail.
   */
  private offerToCore(d: Uint8Array): void {
    const key = hex(d);
    if (this.stopped || this.offeredToCore.has(key) || !this.payloads.has(key) || !this.certs.certified(d)) return;
    this.offeredToCore.add(key);
    if (!this.payloadSide.ordered(d)) this.handle(this.core.onPayloadAvailable(d, Date.now()));
  }

  /** The certificates' output: votes and requests out, verifications started, certified batches offered. */
  private onCerts(out: CertOutput): void {
    if (this.stopped) return;
    for (const v of out.votes) this.sendTo('all', { k: 'bv', d: v.digest, h: v.content, s: v.sig });
    for (const r of out.requests) this.sendTo(r.to, { k: 'cq', d: r.digests });
    for (const d of out.verify) this.verifyHeld(d);
    for (const d of out.mismatch) this.dropUnproven(d);
    for (const f of out.fetch) this.onPayload(this.payloadSide.fetch([f.digest], f.from, Date.now()));
    for (const d of out.certified) this.valid(d, true);
    for (const d of out.verifiedHere) this.valid(d, false);
    this.armCerts(out.timer);
  }

  /** A held batch is valid here: certified (then also for the core) or verified here (for delivery only). */
  private valid(d: Uint8Array, certified: boolean): void {
    const key = hex(d);
    const vb = this.unproven.get(key);
    if (vb) {
      this.unproven.delete(key);
      this.payloads.set(key, vb);
    }
    if (!this.payloads.has(key)) return;
    this.onPayload(this.payloadSide.batchAvailable(d, Date.now()));
    if (!certified) return;
    if (this.proposed.has(key)) this.offerToCore(d);
    this.settle(key, 'certified');
  }

  /** Escalation: this validator verifies a batch it held unverified. A bad one is dropped and its sender quarantined. */
  private verifyHeld(d: Uint8Array): void {
    const key = hex(d);
    const vb = this.unproven.get(key);
    if (!vb) {
      this.certs.unhold(d);
      return;
    }
    this.intake.verifyHeld(vb.origin ?? -1, vb.batch.txs, vb.batch.count).then(
      (verified) => {
        if (this.stopped) return;
        if (verified) vb.verified = verified;
        this.onCerts(this.certs.verified(d, verified !== undefined, Date.now()));
        if (!verified) {
          this.dropUnproven(d);
          this.certs.release(d);
        }
      },
      (e: unknown) => this.o.logger.warn({ digest: key, err: (e as Error).message }, 'could not verify a held batch'),
    );
  }

  private dropUnproven(d: Uint8Array): void {
    const key = hex(d);
    this.unproven.delete(key);
    this.settle(key, 'dropped');
  }

  private armCerts(timer: { at: number } | null): void {
    if (this.certTimer && this.certTimer.at === timer?.at) return;
    if (this.certTimer) clearTimeout(this.certTimer.handle);
    this.certTimer = undefined;
    if (!timer || this.stopped) return;
    const handle = setTimeout(
      () => {
        this.certTimer = undefined;
        this.onCerts(this.certs.onTick(Date.now()));
      },
      Math.max(0, timer.at - Date.now()),
    );
    this.certTimer = { at: timer.at, handle };
  }

  /** A send that fails (frame too large, link closed) is logged and counted, never swallowed or thrown into a caller. */
  private sendTo(to: number | 'all', m: PeerMessage): void {
    sendPeerMessage(this.o.transport, to, m, { logger: this.o.logger, only: this.isValidator, onFail: (t) => this.o.onPeerDrop?.(t, 'unsendable') });
  }

  /** Outputs are processed strictly in order: persist (durably) first, then send. */
  private handle(out: ConsensusOutput): void {
    for (const e of out.events) {
      if (e.type === 'equivocation') {
        this.equivocations++;
        this.o.logger.warn({ event: e }, 'equivocation detected');
      } else if (e.type === 'local-timeout') {
        this.viewChanges++;
        this.o.logger.info({ round: e.round }, 'round timed out');
      } else if (e.type === 'conflicting-commit') this.o.logger.fatal({ event: e }, 'conflicting commit: more than f validators are Byzantine');
      else this.o.logger.debug({ event: e }, 'consensus event');
    }
    if (out.timer) this.arm(out.timer.at);
    this.outputs = this.outputs
      .then(async () => {
        if (this.stopped) return;
        for (const b of out.persistBlocks) this.uncommitted.set(hex(b.hash), b);
        this.stages?.output(out);
        if (out.persist || out.persistTc || out.persistBlocks.length > 0) {
          const meta: Record<string, unknown> = {};
          if (out.persist) meta[SAFETY_KEY] = encodeSafetyData(out.persist);
          if (out.persistTc) meta[TC_KEY] = encodeTimeoutCert(out.persistTc);
          if (out.persistBlocks.length > 0) meta[BLOCKS_KEY] = [...this.uncommitted.values()].map(encodeBlock);
          const t0 = performance.now();
          // The safety file: one fdatasync, not an LMDB commit queued behind the root's writes.
          await this.o.consensusStore.putSafety(meta);
          this.o.observe?.('safety_fsync', performance.now() - t0);
        }
        if (this.stopped) return;
        for (const s of out.send) {
          const m: PeerMessage = { k: 'c', m: encodeMessage(s.msg) };
          this.sendTo(s.to, m);
        }
        for (const f of out.fetchPayload) {
          // A proposal names these: its leader fixed their order, so each goes to the core as soon
          // as it is certified here, not behind its origin's earlier batches.
          for (const d of f.digests) this.proposed.add(hex(d));
          for (const d of f.digests) this.offerToCore(d);
          this.onPayload(this.payloadSide.fetch(f.digests, f.from, Date.now()));
        }
        if (out.commits.length > 0) {
          const delivery = this.payloadSide.committed(out.commits, Date.now());
          // Ordered now, never offered to the core again: its origin's later batches need not wait
          // for its certificate here (a copy re-held between its delivery and the ledger's apply
          // would never get one, and would block its origin's queue for good).
          for (const c of out.commits) for (const d of c.block.payload) this.settle(hex(d), 'dropped');
          const last = out.commits[out.commits.length - 1]!;
          for (const [k, b] of this.uncommitted) if (b.height <= last.block.height) this.uncommitted.delete(k);
          // Not awaited: either order against the ledger's write is safe. Root ahead of the ledger:
          // the unapplied list in this same transaction re-queues the gap. Ledger ahead of the root:
          // the older root's blocks commit again and are skipped as already applied. The committed
          // blocks themselves (served to peers' forward sync) go in the same transaction as the
          // root, so the stored chain never has a hole below it.
          const records = out.commits.map((c) => ({ height: c.block.height, bytes: encodeCommittedBlock(c) }));
          for (const f of this.feed.committed(records, out.commitProof && encodeCommittedBlock(out.commitProof))) {
            this.sendTo(f.to, { k: 'fc', c: f.records, ...(f.proof ? { p: f.proof } : {}) });
          }
          void this.o.consensusStore
            .putDurable(
              {
                [ROOT_KEY]: encodeCommittedBlock(last),
                [BLOCKS_KEY]: [...this.uncommitted.values()].map(encodeBlock),
                [UNAPPLIED_KEY]: (delivery.persistUnapplied ?? []).map(encodeCommittedBlock),
              },
              records,
            )
            .catch((e: unknown) => this.o.logger.error({ err: e }, 'could not persist the committed root'));
          this.onPayload(delivery);
        }
      })
      .catch((e: unknown) => this.o.logger.error({ err: e }, 'consensus output failed'));
  }

  /** The payload side's output: batch requests out, blocks to the ledger in order, released batches dropped. */
  private onPayload(out: PayloadOutput): void {
    if (this.stopped) return;
    for (const r of out.requests) this.sendTo(r.to, { k: 'bq', d: r.digests });
    for (const e of out.events) {
      this.o.logger.warn(
        { round: e.round, height: e.height, missing: e.missing.map(hex), waitingMs: e.waitingMs, askedOf: e.askedOf, batchResponses: this.batchResponses },
        'committed block waits for batches',
      );
    }
    // Read before the release below: a delivered block's batches are among the released ones.
    const blocks: OrderedBlock[] = [];
    for (const { block, digests } of out.deliver) {
      const batches = digests.map((d) => this.payloads.get(hex(d)));
      if (batches.some((b) => b === undefined)) {
        // Cannot happen: a batch is reported available only once held, and released only here.
        this.o.logger.fatal({ round: block.round, height: block.height }, 'a block to deliver lacks a held batch');
        break;
      }
      blocks.push({ batches: batches as VerifiedBatch[], round: block.round, timestamp: block.timestampMs });
    }
    for (const d of out.release) {
      this.payloads.delete(hex(d));
      this.certs.release(d);
      // Its block is applied (delivered on this node's own verification, its certificate perhaps
      // never seen here): its origin's later batches wait for it no longer.
      this.settle(hex(d), 'dropped');
      this.offeredToCore.delete(hex(d));
      this.proposed.delete(hex(d));
    }
    for (const b of blocks) this.deliver?.(b);
    this.armPayload(out.timer);
  }

  private armPayload(timer: { at: number } | null): void {
    if (this.payloadTimer && this.payloadTimer.at === timer?.at) return;
    if (this.payloadTimer) clearTimeout(this.payloadTimer.handle);
    this.payloadTimer = undefined;
    if (!timer || this.stopped) return;
    const handle = setTimeout(
      () => {
        this.payloadTimer = undefined;
        this.onPayload(this.payloadSide.onTick(Date.now()));
      },
      Math.max(0, timer.at - Date.now()),
    );
    this.payloadTimer = { at: timer.at, handle };
  }

  private arm(at: number): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        if (!this.stopped) this.handle(this.core.onTick(Date.now()));
      },
      Math.max(0, at - Date.now()),
    );
  }
}
