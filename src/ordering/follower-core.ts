import { faultTolerance, hex, type Block, type CommittedBlock, type ConsensusCrypto, type Hash } from '../consensus/index.js';
import { CommitVerifier, type ChainTip } from './commit-proof.js';

/** Records one `fc` answer to a subscription carries at most (the validator's catch-up chunk). */
export const FOLLOW_CHUNK = 64;
/** Unproven records kept after our tip, waiting for the 2-chain that proves them. */
const MAX_PENDING = 4 * FOLLOW_CHUNK;
/** Digests per batch request (peer-wire's MAX_BATCHES_PER_REQUEST). */
const MAX_DIGESTS_PER_REQUEST = 64;

export interface FollowerConfig {
  chainId: number;
  /** The voting set: members 0..validators-1. */
  validators: number;
  /** Certificate checks against the validator set (a follower has no key to sign with). */
  crypto: ConsensusCrypto;
  /** Unanswered subscription or batch request: ask the next validator after this. */
  retryMs: number;
  /** Validators subscribed at once; default f + 1, so at least one is honest. */
  fanout?: number;
  /** A business node's own batch not in a committed block after this long is sent again. Default 4 × retryMs. */
  resendMs?: number;
  /** Restore: the last committed block all of whose payload blocks the ledger applied (default genesis). */
  root: CommittedBlock;
  /** Consensus round of the ledger's last block: blocks at or below it are not delivered again. */
  appliedRound: number;
}

export type FollowerMessage =
  /** To a validator: send committed records from this height on and, if `live`, every new commit after them. */
  | { type: 'subscribe'; fromHeight: number; live: boolean }
  /** To a validator: these batches, by digest. */
  | { type: 'batches-request'; digests: Hash[] };

export interface FollowerOutput {
  send: { to: number; msg: FollowerMessage }[];
  /** Blocks newly proven committed, in order, empty ones included. */
  committed: Block[];
  /** Committed blocks with payload, in order, each with all its batches available: execute them. */
  deliver: Block[];
  /** Store durably (overwrite): on restart, following resumes above it. */
  persistRoot?: CommittedBlock;
  /** Own batches (a business node's) to send to the validators again: none of them ordered it yet. */
  resend: Hash[];
  /** Call onTick at this time (null: nothing is waiting). */
  timer: { at: number } | null;
  events: FollowerEvent[];
}

export type FollowerEvent =
  | { type: 'invalid'; from: number; reason: string }
  | { type: 'behind'; from: number; height: number; tip: number }
  | { type: 'waiting-batches'; height: number; missing: number; sinceMs: number };

interface Pending {
  /** Validator that sent the records (asked first for their batches). */
  from: number;
  records: CommittedBlock[];
}

/**
 * The follower of a business or slim node, sans-I/O like ConsensusCore: commit runs, batch
 * arrivals, link changes and ticks in; subscriptions, batch requests, blocks to execute and the
 * root to persist out. It accepts a block only on a 2-chain of quorum certificates of the
 * configured validator set (CommitVerifier), never on one validator's word, and it subscribes to
 * f + 1 validators so one honest validator is enough to make progress. Runs the same in a node
 * (FollowerOrderer) and in the simulator.
 */
export class FollowerCore {
  private readonly verifier: CommitVerifier;
  private readonly fanout: number;
  private tip: ChainTip;
  /** Proven committed records (block + QC: the last one done is the root to persist) from just above the durable root on, in order. */
  private readonly proven: CommittedBlock[] = [];
  /** Index into `proven` of the next block to deliver. */
  private nextDeliver = 0;
  private pending: Pending | undefined;
  private appliedRound: number;
  private readonly connected = new Set<number>();
  private readonly subscribed = new Set<number>();
  private readonly available = new Set<string>();
  private readonly requested = new Map<string, number>();
  /**
   * A business node's own batches not yet in a proven block, and when each was last sent. No
   * validator holds them as its own: if every one dropped a batch (intake full, a gap given up),
   * nobody would ever propose it, and the transactions the node acknowledged would stay pending.
   */
  private readonly own = new Map<string, { digest: Hash; sentAt: number }>();
  /** Rotates requests over validators. */
  private cursor = 0;
  /** Highest height any validator showed us (a push ahead of our tip): we are behind until there. */
  private seenHeight = 0;
  private lastProgress = 0;
  private lastAsk = 0;
  private askedFor = -1;
  private waitingSince = 0;
  private now = 0;
  private out: FollowerOutput = emptyOutput();

  constructor(private readonly cfg: FollowerConfig) {
    this.verifier = new CommitVerifier(cfg.chainId, cfg.validators, cfg.crypto);
    this.fanout = Math.max(1, Math.min(cfg.validators, cfg.fanout ?? faultTolerance(cfg.validators).f + 1));
    this.tip = { height: cfg.root.block.height, round: cfg.root.block.round, hash: cfg.root.block.hash };
    this.appliedRound = cfg.appliedRound;
  }

  get height(): number {
    return this.tip.height;
  }

  status(): { height: number; round: number; hash: string; subscribed: number[]; behind: number; undelivered: number } {
    return {
      height: this.tip.height,
      round: this.tip.round,
      hash: hex(this.tip.hash),
      subscribed: [...this.subscribed],
      behind: Math.max(0, this.seenHeight - this.tip.height),
      undelivered: this.proven.length - this.nextDeliver,
    };
  }

  peerUp(validator: number, now: number): FollowerOutput {
    this.begin(now);
    if (this.isValidator(validator)) {
      this.connected.add(validator);
      this.fillSubscriptions();
    }
    return this.finish();
  }

  peerDown(validator: number, now: number): FollowerOutput {
    this.begin(now);
    this.connected.delete(validator);
    if (this.subscribed.delete(validator)) this.fillSubscriptions();
    return this.finish();
  }

  /** A validator's run of committed records (oldest first) and, when it reaches its root, its live 2-chain. */
  onCommits(from: number, records: CommittedBlock[], proof: CommittedBlock | undefined, now: number): FollowerOutput {
    this.begin(now);
    if (!this.isValidator(from) || records.length === 0) return this.finish();
    const first = records[0]!.block.height;
    const last = records[records.length - 1]!.block.height;
    if (last > this.seenHeight) this.seenHeight = last;
    if (last <= this.tip.height) return this.finish(); // another subscriber's copy, already applied
    // Join the records to what we hold: unproven records right after the tip, then these.
    let run: CommittedBlock[];
    const held = this.pending?.records ?? [];
    if (first === this.tip.height + 1) run = records;
    else if (first > this.tip.height + 1 && first === this.tip.height + held.length + 1) run = [...held, ...records];
    else if (first <= this.tip.height) run = records.slice(this.tip.height + 1 - first);
    else {
      // A gap: the push is ahead of us (we missed commits, or are catching up). Ask for ours.
      this.out.events.push({ type: 'behind', from, height: first, tip: this.tip.height });
      this.askFrom(from, false);
      return this.finish();
    }
    const verdict = this.verifier.verify(this.tip, run, proof);
    if (!verdict.ok) {
      this.out.events.push({ type: 'invalid', from, reason: verdict.reason });
      // Drop what that sender gave us; ask another validator for the same heights.
      this.pending = undefined;
      this.askFrom(this.pick(-1), true);
      return this.finish();
    }
    for (const r of run.slice(0, verdict.proven)) this.accept(r);
    const rest = run.slice(verdict.proven);
    this.pending = rest.length > 0 && rest.length <= MAX_PENDING ? { from, records: rest } : undefined;
    if (verdict.proven > 0) {
      this.lastProgress = this.now;
      this.askedFor = -1;
    }
    // A full catch-up chunk: more is waiting at that validator.
    if (records.length >= FOLLOW_CHUNK && verdict.proven > 0) this.askFrom(from, false);
    this.pump();
    return this.finish();
  }

  /** A batch of a committed block is here (received and identified, or our own). */
  batchAvailable(digest: Hash, now: number): FollowerOutput {
    this.begin(now);
    const key = hex(digest);
    this.available.add(key);
    this.requested.delete(key);
    this.pump();
    return this.finish();
  }

  /** A business node sealed and sent this batch: it is here, and it is sent again until a block holds it. */
  ownBatch(digest: Hash, now: number): FollowerOutput {
    this.begin(now);
    this.own.set(hex(digest), { digest, sentAt: now });
    const key = hex(digest);
    this.available.add(key);
    this.requested.delete(key);
    this.pump();
    return this.finish();
  }

  /** Whether a batch with this digest was asked for (an answer with anything else is unsolicited). */
  wanted(digest: Hash): boolean {
    return this.requested.has(hex(digest));
  }

  /** The ledger applied the delivered block of this round: the durable root may move up. */
  applied(round: number, now: number): FollowerOutput {
    this.begin(now);
    if (round > this.appliedRound) this.appliedRound = round;
    this.advanceDurable();
    return this.finish();
  }

  onTick(now: number): FollowerOutput {
    this.begin(now);
    if (this.subscribed.size < this.fanout) this.fillSubscriptions();
    // Behind and nothing came for a while: the validator we asked is slow or faulty.
    if (this.seenHeight > this.tip.height && this.now - Math.max(this.lastProgress, this.lastAsk) >= this.cfg.retryMs) {
      this.askFrom(this.pick(-1), true);
    }
    const resendMs = this.cfg.resendMs ?? 4 * this.cfg.retryMs;
    for (const o of this.own.values()) {
      if (this.now - o.sentAt < resendMs) continue;
      o.sentAt = this.now;
      this.out.resend.push(o.digest);
    }
    this.pump();
    return this.finish();
  }

  private isValidator(i: number): boolean {
    return Number.isInteger(i) && i >= 0 && i < this.cfg.validators;
  }

  private accept(r: CommittedBlock): void {
    this.proven.push(r);
    this.out.committed.push(r.block);
    for (const d of r.block.payload) this.own.delete(hex(d));
    this.tip = { height: r.block.height, round: r.block.round, hash: r.block.hash };
  }

  /** Delivers proven blocks in order, each once all its batches are here; asks for the missing ones. */
  private pump(): void {
    while (this.nextDeliver < this.proven.length) {
      const b = this.proven[this.nextDeliver]!.block;
      if (b.payload.length === 0 || b.round <= this.appliedRound) {
        this.nextDeliver++;
        continue;
      }
      const missing = b.payload.filter((d) => !this.available.has(hex(d)));
      if (missing.length > 0) {
        if (this.waitingSince === 0) this.waitingSince = this.now;
        const due = missing.filter((d) => (this.requested.get(hex(d)) ?? 0) <= this.now);
        if (due.length > 0) {
          // The proposer first (it has them), then the other validators in turn.
          const to = this.waitingSince === this.now ? this.pick(b.proposer) : this.pick(-1);
          if (to >= 0) {
            for (const d of due) this.requested.set(hex(d), this.now + this.cfg.retryMs);
            for (let i = 0; i < due.length; i += MAX_DIGESTS_PER_REQUEST) this.send(to, { type: 'batches-request', digests: due.slice(i, i + MAX_DIGESTS_PER_REQUEST) });
          }
          if (this.now - this.waitingSince > 4 * this.cfg.retryMs) {
            this.out.events.push({ type: 'waiting-batches', height: b.height, missing: missing.length, sinceMs: this.now - this.waitingSince });
          }
        }
        break;
      }
      this.waitingSince = 0;
      for (const d of b.payload) this.available.delete(hex(d));
      this.out.deliver.push(b);
      this.nextDeliver++;
    }
    this.advanceDurable();
  }

  /**
   * The root on disk moves over blocks that need nothing more from us: empty ones, and those the
   * ledger applied. A crash then resumes above blocks already executed, never above one that
   * was delivered but not yet durable.
   */
  private advanceDurable(): void {
    let moved = 0;
    for (const { block: b } of this.proven) {
      if (b.payload.length > 0 && b.round > this.appliedRound) break;
      moved++;
    }
    if (moved === 0) return;
    const done = this.proven.splice(0, moved);
    this.nextDeliver = Math.max(0, this.nextDeliver - moved);
    this.out.persistRoot = done[done.length - 1]!;
  }

  private fillSubscriptions(): void {
    for (const v of this.connected) {
      if (this.subscribed.size >= this.fanout) break;
      if (this.subscribed.has(v)) continue;
      this.subscribed.add(v);
      this.send(v, { type: 'subscribe', fromHeight: this.tip.height + 1, live: true });
    }
  }

  /** Asks one validator for the heights above our tip (once per tip and retry period, unless `force`). */
  private askFrom(to: number, force: boolean): void {
    if (!this.connected.has(to)) to = this.pick(-1);
    if (to < 0) return;
    const from = this.tip.height + 1;
    if (!force && this.askedFor === from && this.now - this.lastAsk < this.cfg.retryMs) return;
    this.askedFor = from;
    this.lastAsk = this.now;
    this.send(to, { type: 'subscribe', fromHeight: from, live: this.subscribed.has(to) });
  }

  /**
   * `preferred` if connected, else the next connected validator in turn (-1 if none): retries
   * rotate, so a validator that never answers delays us by one retry period, not forever.
   */
  private pick(preferred: number): number {
    if (this.connected.has(preferred)) return preferred;
    if (this.connected.size === 0) return -1;
    const list = [...this.connected].sort((a, b) => a - b);
    return list[this.cursor++ % list.length]!;
  }

  private send(to: number, msg: FollowerMessage): void {
    this.out.send.push({ to, msg });
  }

  private begin(now: number): void {
    this.now = now;
    this.out = emptyOutput();
  }

  private finish(): FollowerOutput {
    const waiting =
      this.own.size > 0 || this.nextDeliver < this.proven.length || this.seenHeight > this.tip.height || this.subscribed.size < Math.min(this.fanout, this.connected.size);
    this.out.timer = waiting ? { at: this.now + Math.max(1, Math.floor(this.cfg.retryMs / 2)) } : null;
    return this.out;
  }
}

function emptyOutput(): FollowerOutput {
  return { send: [], committed: [], deliver: [], resend: [], timer: null, events: [] };
}
