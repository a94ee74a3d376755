import { performance } from 'node:perf_hooks';
import type { Logger } from 'pino';
import {
  Ed25519ConsensusCrypto,
  decodeCommittedBlock,
  encodeCommittedBlock,
  genesisBlock,
  genesisQc,
  hex,
  wireLimits,
  type CommittedBlock,
  type WireLimits,
} from '../consensus/index.js';
import { txRootOf } from '../chain/block-header.js';
import type { PeerTransport } from '../network/index.js';
import type { MemberIdentity } from '../node/validator-set.js';
import type { ConsensusStore } from '../storage/consensus-store.js';
import type { LedgerStore } from '../storage/ledger-store.js';
import { TX_ID_SIZE } from '../tx/layout.js';
import { batchContentHash, certFromWire, validBatchCertificate } from './batch-certificate.js';
import { BatchServer } from './batch-server.js';
import type { SignatureVerifier } from '../pipeline/verify-pool.js';
import type { ConsensusCrypto } from '../consensus/crypto.js';
import { FollowerCore, type FollowerOutput } from './follower-core.js';
import { HeldBatches } from './held-batches.js';
import type { OrderedBlock, Orderer, VerifiedBatch } from './orderer.js';
import { PeerBatchIntake } from './peer-batch-intake.js';
import { parsePeerMessage, sendPeerMessage, type PeerMessage, type PeerWireLimits } from './peer-wire.js';
import { maxMessageBytes } from '../consensus/index.js';

/** The follower's committed root: resumed from on restart. */
const FOLLOW_ROOT_KEY = 'follower/root';

export interface FollowerOrdererOptions {
  identity: MemberIdentity;
  chainId: number;
  timeoutMs: number;
  transport: PeerTransport;
  /** The ledger: own batches of applied blocks are served from it again on a gap request. */
  store: LedgerStore;
  consensusStore: ConsensusStore;
  logger: Logger;
  /** Consensus round of the last block in the ledger. */
  appliedRound: number;
  maxBatchTxs: number;
  /** Checks the signatures of a served batch that comes without a certificate for its exact bytes. */
  verifier: SignatureVerifier;
  /** A peer message dropped (hotledger_peer_messages_dropped_total). */
  onPeerDrop?: (from: number, reason: FollowerDropReason) => void;
}

export type FollowerDropReason = 'malformed' | 'not-for-role' | 'unsolicited' | 'invalid-commit' | 'unsendable' | 'bad-signature';

/**
 * The ordering stage of a business or slim node: FollowerCore with real I/O around it. A business
 * node's own batches go to every validator (numbered like a validator's, so gaps are asked for
 * again); committed blocks come from validators as certified runs and are executed here once
 * their batches are. Batches of certified blocks are not verified again: the quorum that
 * certified a block held and verified every batch in it (docs/consensus.md, "Followers"). What
 * the quorum vouched for is the batch's exact bytes, so a served copy is taken on a batch
 * certificate for its content hash; without one (served from a ledger, or a copy whose signature
 * bytes differ) its signatures are checked here, and a copy that fails is dropped and the batch
 * asked of another validator.
 */
export class FollowerOrderer implements Orderer {
  private readonly core: FollowerCore;
  private readonly held = new HeldBatches();
  private readonly server: BatchServer;
  private readonly wire: WireLimits;
  private readonly peerLimits: PeerWireLimits;
  private deliver: ((block: OrderedBlock) => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private persisting: Promise<void> = Promise.resolve();
  private stopped = false;
  /** Transactions executed here without a signature check of our own (certified by the quorum). */
  certifiedTxs = 0;
  /** Transactions of served batches that came without a certificate for their bytes: checked here. */
  checkedTxs = 0;
  /** Served batches whose signatures failed (a Byzantine validator's altered copy). */
  badCopies = 0;
  private readonly crypto: ConsensusCrypto;
  private readonly validators: number;
  /** Digests of served copies being checked here. */
  private readonly checking = new Set<string>();
  invalidRuns = 0;
  /** Own batches sent again because no committed block held them yet. */
  resent = 0;

  constructor(private readonly o: FollowerOrdererOptions) {
    const n = o.identity.validators.length;
    this.wire = wireLimits(n);
    this.peerLimits = { maxBatchTxs: o.maxBatchTxs, maxConsensusBytes: maxMessageBytes(this.wire) };
    this.validators = n;
    this.crypto = new Ed25519ConsensusCrypto(
      null,
      o.identity.validators.map((v) => v.publicKey),
    );
    const stored = o.consensusStore.get<Uint8Array>(FOLLOW_ROOT_KEY);
    const root: CommittedBlock = stored ? decodeCommittedBlock(stored, this.wire) : { block: genesisBlock(o.chainId), qc: genesisQc(o.chainId) };
    this.core = new FollowerCore({
      chainId: o.chainId,
      validators: n,
      crypto: this.crypto,
      retryMs: Math.max(50, o.timeoutMs),
      root,
      appliedRound: o.appliedRound,
    });
    this.server = new BatchServer({
      held: this.held,
      store: o.store,
      send: (to, m) => this.sendTo(to, m),
      maxMessageBytes: () => o.transport.maxMessageBytes,
      logger: o.logger,
    });
  }

  status(): ReturnType<FollowerCore['status']> {
    return this.core.status();
  }

  start(deliver: (block: OrderedBlock) => void): void {
    this.deliver = deliver;
    const t = this.o.transport;
    t.onMessage((from, msg) => this.onPeer(from, msg));
    t.onPeerUp((v) => this.handle(this.core.peerUp(v, Date.now())));
    t.onPeerDown((v) => this.handle(this.core.peerDown(v, Date.now())));
  }

  /** A business node's own batch: to every validator, kept here for its block. */
  submit(vb: VerifiedBatch): void {
    const digest = txRootOf(vb.batch.ids.subarray(0, vb.batch.count * TX_ID_SIZE));
    vb.digest = digest;
    this.held.set(hex(digest), vb);
    this.server.broadcast(digest, vb.batch.txs);
    this.handle(this.core.ownBatch(digest, Date.now()));
  }

  /** Batches held in memory (own ones, and served ones until their block is delivered). */
  heldBatches(): number {
    return this.held.size;
  }

  applied(_stateRoot: Uint8Array, round: number): void {
    this.handle(this.core.applied(round, Date.now()));
  }

  stop(): void {
    this.stopped = true;
    this.deliver = undefined;
    if (this.timer) clearTimeout(this.timer);
  }

  private onPeer(from: number, raw: unknown): void {
    if (this.stopped) return;
    let msg: PeerMessage;
    try {
      msg = parsePeerMessage(raw, this.peerLimits);
    } catch (e) {
      return this.dropped(from, 'malformed', (e as Error).message);
    }
    try {
      switch (msg.k) {
        case 'fc': {
          const records = msg.c.map((r) => decodeCommittedBlock(r, this.wire));
          const proof = msg.p && decodeCommittedBlock(msg.p, this.wire);
          return this.handle(this.core.onCommits(from, records, proof, Date.now()));
        }
        case 'br':
          for (const t of msg.txs) {
            const txs = Buffer.from(t);
            const { ids, digest, count } = PeerBatchIntake.identify(txs);
            const key = hex(digest);
            if (!this.core.wanted(digest)) {
              this.dropped(from, 'unsolicited', key);
              continue;
            }
            if (this.held.has(key) || this.checking.has(key)) continue;
            const wire = msg.c?.find((c) => hex(c.d) === key);
            const cert = wire && certFromWire(wire);
            if (
              cert &&
              Buffer.from(cert.content).equals(batchContentHash(txs)) &&
              validBatchCertificate(cert, { chainId: this.o.chainId, validators: this.validators, crypto: this.crypto })
            ) {
              this.certifiedTxs += count;
              this.take(from, txs, ids, digest, new Uint8Array(count));
              continue;
            }
            this.check(from, txs, ids, digest);
          }
          return;
        case 'bn':
          // A validator missed some of our batches (a business node's own).
          this.server.resend(from, msg.i, msg.f, msg.t);
          return;
        default:
          return this.dropped(from, 'not-for-role', msg.k);
      }
    } catch (e) {
      this.dropped(from, 'malformed', (e as Error).message);
    }
  }

  private handle(out: FollowerOutput): void {
    if (this.stopped) return;
    for (const e of out.events) {
      if (e.type === 'invalid') {
        this.invalidRuns++;
        this.o.onPeerDrop?.(e.from, 'invalid-commit');
        this.o.logger.warn({ from: e.from, reason: e.reason }, 'a validator sent commits that do not verify: it is faulty');
      } else if (e.type === 'waiting-batches') this.o.logger.warn(e, 'committed block waits for batches');
      else this.o.logger.debug(e, 'follower event');
    }
    for (const s of out.send) {
      if (s.msg.type === 'subscribe') this.sendTo(s.to, { k: 'fs', h: s.msg.fromHeight, l: s.msg.live });
      else this.sendTo(s.to, { k: 'bq', d: s.msg.digests });
    }
    for (const d of out.resend) {
      this.resent++;
      this.o.logger.warn({ digest: hex(d) }, 'own batch not ordered yet: sent to the validators again');
      this.server.again(d);
    }
    for (const b of out.deliver) {
      const batches = b.payload.map((d) => this.held.get(hex(d))!);
      for (const d of b.payload) this.held.delete(hex(d));
      this.deliver?.({ batches, round: b.round, timestamp: b.timestampMs });
    }
    if (out.persistRoot) {
      const bytes = encodeCommittedBlock(out.persistRoot);
      this.persisting = this.persisting
        .then(() => this.o.consensusStore.putDurable({ [FOLLOW_ROOT_KEY]: bytes }))
        .catch((e: unknown) => this.o.logger.error({ err: e }, 'could not persist the follower root'));
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (out.timer) {
      this.timer = setTimeout(() => this.handle(this.core.onTick(Date.now())), Math.max(0, out.timer.at - Date.now()));
      this.timer.unref();
    }
  }

  private sendTo(to: number | 'all', m: PeerMessage): void {
    sendPeerMessage(this.o.transport, to, m, { logger: this.o.logger, onFail: (t) => this.o.onPeerDrop?.(t, 'unsendable') });
  }

  /** A served batch of a committed block, valid here: held for execution. */
  private take(from: number, txs: Buffer, ids: Buffer, digest: Uint8Array, verified: Uint8Array): void {
    const count = ids.length / TX_ID_SIZE;
    const vb: VerifiedBatch = { batch: { seq: 0, entries: [], txs, ids, count, sealedAt: performance.now() }, verified, verifyMs: 0, digest, origin: from };
    this.held.set(hex(digest), vb);
    this.handle(this.core.batchAvailable(digest, Date.now()));
  }

  /** A served copy without a certificate for its bytes: its signatures are checked here first. */
  private check(from: number, txs: Buffer, ids: Buffer, digest: Uint8Array): void {
    const key = hex(digest);
    const count = ids.length / TX_ID_SIZE;
    this.checking.add(key);
    this.o.verifier.verify(txs, count).then(
      (verified) => {
        this.checking.delete(key);
        if (this.stopped) return;
        const bad = verified.findIndex((v) => v !== 0);
        if (bad >= 0) {
          // The core asks another validator for it at its next retry.
          this.badCopies++;
          return this.dropped(from, 'bad-signature', `batch ${key.slice(0, 16)}, tx ${bad}`);
        }
        if (!this.core.wanted(digest) || this.held.has(key)) return;
        this.checkedTxs += count;
        this.take(from, txs, ids, digest, verified);
      },
      (e: unknown) => {
        this.checking.delete(key);
        this.o.logger.warn({ from, err: (e as Error).message }, 'could not check a served batch');
      },
    );
  }

  private dropped(from: number, reason: FollowerDropReason, detail?: string): void {
    this.o.onPeerDrop?.(from, reason);
    if (reason === 'bad-signature') this.o.logger.warn({ from, reason, detail }, 'a validator served a batch copy with a bad signature: it is faulty');
    else this.o.logger.debug({ from, reason, detail }, 'dropped a peer message');
  }
}
