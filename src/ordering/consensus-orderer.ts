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
import { TX_ID_SIZE, TX_SIZE } from '../tx/layout.js';
import { KeyedLimiter } from '../limits/token-bucket.js';
import type { MemberIdentity } from '../node/validator-set.js';
import { BatchSequencer, type GapRequest } from './batch-sequencer.js';
import { ConsensusStageTimer, type ConsensusStage } from './consensus-stage-timer.js';
import { BatchServer } from './batch-server.js';
import { HeldBatches } from './held-batches.js';
import { PeerBatchIntake, type IntakeDrop } from './peer-batch-intake.js';
import { FollowerFeed } from './follower-feed.js';
import { parsePeerMessage, sendPeerMessage, type PeerMessage, type PeerWireLimits } from './peer-wire.js';
import { ValidatorPayloads, type PayloadOutput } from './validator-payloads.js';

const SAFETY_KEY = 'consensus/safety';
const BLOCKS_KEY = 'consensus/blocks';
const ROOT_KEY = 'consensus/root';
const TC_KEY = 'consensus/high-tc';
/** Committed blocks with payload that the ledger may not have applied yet (written with ROOT_KEY). */
const UNAPPLIED_KEY = 'consensus/unapplied';

export interface ConsensusOrdererOptions {
  identity: MemberIdentity;
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
   * Per peer, the batch it sent last: each batch is offered to consensus only after the previous
   * one from the same peer. Verification is asynchronous and a small later batch would otherwise
   * finish first and be proposed before an earlier one, putting a sender's nonces out of order.
   */
  private readonly arrivals = new Map<number, Promise<void>>();
  /** Peers' batches: verified once, dropped whole if one tx is invalid, bounded per origin. */
  private readonly intake: PeerBatchIntake;
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
  private readonly sequencer: BatchSequencer<Promise<VerifiedBatch | undefined>>;
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
    this.sequencer = new BatchSequencer(64, o.timeoutMs);
    this.server = new BatchServer({
      held: this.payloads,
      store: o.store,
      send: (to, m) => this.sendTo(to, m),
      maxMessageBytes: () => o.transport.maxMessageBytes,
      logger: o.logger,
    });
    this.wire = wireLimits(ids.validators.length);
    this.peerLimits = { maxBatchTxs: o.maxBatchTxs, maxConsensusBytes: maxMessageBytes(this.wire) };
    this.requestLimiter = new KeyedLimiter(o.peerRequestsPerSec, 2 * o.peerRequestsPerSec, ids.links.length);
    this.messageLimiter = new KeyedLimiter(o.peerMessagesPerSec, 2 * o.peerMessagesPerSec, ids.links.length);
    this.intake = new PeerBatchIntake({
      chainId: o.chainId,
      verifier: o.verifier,
      held: this.payloads,
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
      verifying: (key) => this.intake.isVerifying(key),
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
    this.core = new ConsensusCore({
      chainId: o.chainId,
      validators: ids.validators.length,
      self: ids.index,
      timeoutMs: o.timeoutMs,
      heartbeatMs: o.heartbeatMs,
      crypto: new Ed25519ConsensusCrypto(
        ids.key.seed,
        ids.validators.map((p) => p.publicKey),
      ),
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
    this.o.transport.onPeerUp((member) => this.isValidator(member) && this.onPayload(this.payloadSide.peerUp(member, Date.now())));
    this.o.transport.onPeerDown((member) => {
      this.feed.drop(member);
      if (this.isValidator(member)) this.onPayload(this.payloadSide.peerDown(member, Date.now()));
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
    // Encoded (copied) now: the batch buffer is transferred to the ledger thread once ordered.
    this.server.broadcast(digest, vb.batch.txs.subarray(0, vb.batch.count * TX_SIZE));
    this.handle(this.core.onPayloadAvailable(digest, Date.now()));
    this.onPayload(this.payloadSide.batchAvailable(digest, Date.now()));
  }

  applied(stateRoot: Uint8Array, round: number): void {
    this.core.setStateRoot(stateRoot);
    this.onPayload(this.payloadSide.applied(round, Date.now()));
  }

  status(): ConsensusStatusView {
    return this.core.status();
  }

  stop(): void {
    this.stopped = true;
    this.deliver = undefined;
    if (this.timer) clearTimeout(this.timer);
    if (this.payloadTimer) clearTimeout(this.payloadTimer.handle);
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
          // Verification starts at once (in parallel); offering waits for the origin's order.
          const taken = this.intake.take(from, Buffer.from(msg.txs));
          // No room for this origin now: as if lost in transit. The sequencer sees the gap when a
          // later batch comes and asks for it again; offering a later one first would break the
          // origin's nonce order (its senders' later nonces committed before the earlier ones).
          if ('full' in taken) return;
          if (msg.i === undefined || msg.n === undefined) return this.offerInOrder(from, [taken.verifying]);
          const r = this.sequencer.receive(from, { boot: msg.i, seq: msg.n, item: taken.verifying }, Date.now());
          if (r.request) this.askAgain(r.request);
          return this.offerInOrder(from, r.release);
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
            const taken = this.intake.take(from, txs, { known, solicited: true });
            if ('full' in taken) continue; // asked for again by the next fetch
            void taken.verifying.then(
              (b) => this.offer(b),
              (e: unknown) => this.o.logger.warn({ from, err: (e as Error).message }, 'requested batch failed'),
            );
          }
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

  /** Offers a peer's batches strictly in the given order, each once verified. */
  private offerInOrder(from: number, batches: Promise<VerifiedBatch | undefined>[]): void {
    for (const verifying of batches) {
      const chain = (this.arrivals.get(from) ?? Promise.resolve()).then(() => verifying).then((b) => this.offer(b));
      this.arrivals.set(
        from,
        chain.catch((e: unknown) => this.o.logger.warn({ from, err: (e as Error).message }, 'peer batch failed')),
      );
    }
  }

  private sequencerTick(): void {
    if (this.stopped) return;
    const { release, requests } = this.sequencer.tick(Date.now());
    for (const { origin, items } of release) {
      this.o.logger.warn({ origin, released: items.length }, 'gave up waiting for a peer batch lost in transit');
      this.offerInOrder(origin, items);
    }
    for (const r of requests) this.askAgain(r);
  }

  private askAgain(r: GapRequest): void {
    this.sendTo(r.origin, { k: 'bn', i: r.boot, f: r.from, t: r.to });
  }

  private offer(vb: VerifiedBatch | undefined): void {
    if (!vb) return;
    const key = hex(vb.digest!);
    if (this.stopped || this.payloads.has(key)) return;
    // In the ledger already (a late copy): needed neither for a proposal nor for a delivery.
    if (this.o.store.getBatchLocation(vb.digest!) !== undefined) return;
    this.payloads.set(key, vb);
    // A batch of a block committed already (fetched for a block re-queued after a restart, or a
    // late copy) is for delivery only: offered to a restarted core, which no longer knows it was
    // ordered, it would be proposed again and every round this node leads would fail.
    if (!this.payloadSide.ordered(vb.digest!)) this.handle(this.core.onPayloadAvailable(vb.digest!, Date.now()));
    this.onPayload(this.payloadSide.batchAvailable(vb.digest!, Date.now()));
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
        for (const f of out.fetchPayload) this.onPayload(this.payloadSide.fetch(f.digests, f.from, Date.now()));
        if (out.commits.length > 0) {
          const delivery = this.payloadSide.committed(out.commits, Date.now());
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
    for (const d of out.release) this.payloads.delete(hex(d));
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
