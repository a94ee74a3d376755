import { hex, type Block, type CommittedBlock, type Hash } from '../consensus/types.js';

/** Digests per batch request (peer-wire's MAX_BATCHES_PER_REQUEST). */
export const MAX_DIGESTS_PER_REQUEST = 64;
/** Digests of committed blocks remembered (queued, and recently delivered until the ledger has them). */
const ORDERED_MEMORY = 16_384;

export interface ValidatorPayloadsConfig {
  /** This validator's index: never asked for batches. */
  self: number;
  /** Consensus round timeout: an unanswered batch request is asked of the next validator after half of it. */
  timeoutMs: number;
  /** Consensus round of the last block in the ledger: commits at or below it are already applied. */
  appliedRound: number;
  /**
   * Restore: committed blocks with payload written with the core's root, oldest first. Those above
   * `appliedRound` are delivered again before anything the core commits from now on.
   */
  unapplied?: readonly CommittedBlock[];
  /**
   * Batches being verified (received, not yet available): not asked for again. A read-only view
   * of the node's verify intake; absent where arrival is at once (the simulator).
   */
  verifying?: (digestHex: string) => boolean;
  /** Test-only (simulator): deliver the oldest committed block even when some of its batches are missing. */
  unsafeDeliverIncomplete?: boolean;
  /** Test-only (simulator): always ask the same validator (the lowest connected one), never the proposer or another in turn. */
  unsafeNoRotation?: boolean;
}

export interface PayloadDelivery {
  block: Block;
  /** The block's batches, in payload order, every one available (report each again to the ledger with the block). */
  digests: Hash[];
}

export interface PayloadOutput {
  /** Batch requests (`bq`) to send. */
  requests: { to: number; digests: Hash[] }[];
  /** Committed blocks with payload, in commit order, each with all its batches available: execute them. */
  deliver: PayloadDelivery[];
  /** Batches no longer needed (their block was delivered, or was applied before): release them. */
  release: Hash[];
  /**
   * With new commits: the committed-but-not-applied list, to write durably in the same put as the
   * core's root (a restart gives it back as `unapplied`).
   */
  persistUnapplied?: CommittedBlock[];
  /** Call onTick at this time (null: nothing is waiting). */
  timer: { at: number } | null;
  events: PayloadEvent[];
}

export type PayloadEvent = {
  type: 'waiting-batches';
  round: number;
  height: number;
  missing: Hash[];
  waitingMs: number;
  /** The validator asked this time (-1: none connected). */
  askedOf: number;
};

interface Request {
  /** An answer (`br`) with this digest is solicited until then. */
  until: number;
  /** Not answered by then: ask the next validator. */
  retryAt: number;
}

/**
 * The payload side of a validator's ordering stage, sans-I/O like ConsensusCore: the core's
 * commits and batch fetches, batch arrivals, the ledger's progress, link changes and ticks in;
 * batch requests, blocks to execute in order, batches to release, the unapplied list to persist
 * and a timer out. It delivers a committed block only once all of its batches are here, strictly
 * in commit order, and skips blocks the ledger applied before a restart. Runs the same in a node
 * (ConsensusOrderer) and in the simulator.
 */
export class ValidatorPayloads {
  private readonly available = new Set<string>();
  private readonly commitQueue: CommittedBlock[] = [];
  /**
   * Committed blocks with payload whose round is above the ledger's, oldest first. The core's
   * root is written as soon as blocks commit, before the ledger applies them; a crash in between
   * would leave blocks below the restarted core's root that the ledger never got, and the core
   * never commits them again. So they are written in the same durable put as the root, and on
   * restart the ones above the ledger's round go back to the head of the commit queue.
   */
  private readonly unapplied: CommittedBlock[] = [];
  /** Digests asked for, in the order first asked: an answer with anything else is unsolicited. */
  private readonly requested = new Map<string, Request>();
  private readonly connected = new Set<number>();
  /** Batches of blocks committed (queued or recently delivered), oldest first, each with whether its block was delivered: see `ordered`, `delivered`. */
  private readonly orderedDigests = new Map<string, boolean>();
  /** Rotates batch requests over validators: one answer per request, not one per validator. */
  private cursor = 0;
  /** Round of the last block delivered or applied: commits at or below it are not delivered again. */
  private appliedRound: number;
  /** Since when the head of the commit queue has been waiting for batches (-1: not waiting). */
  private waitingSince = -1;
  private tickAt = 0;
  private now = 0;
  private out: PayloadOutput = emptyOutput();

  constructor(private readonly cfg: ValidatorPayloadsConfig) {
    this.appliedRound = cfg.appliedRound;
    for (const c of cfg.unapplied ?? []) if (c.block.round > this.appliedRound) this.unapplied.push(c);
    this.commitQueue.push(...this.unapplied);
    for (const c of this.unapplied) this.remember(c.block.payload);
  }

  /** Committed blocks not yet delivered (empty ones and already applied ones included until skipped). */
  get queued(): number {
    return this.commitQueue.length;
  }

  peerUp(validator: number, now: number): PayloadOutput {
    this.begin(now);
    if (validator !== this.cfg.self) this.connected.add(validator);
    this.pump();
    return this.finish();
  }

  peerDown(validator: number, now: number): PayloadOutput {
    this.begin(now);
    this.connected.delete(validator);
    return this.finish();
  }

  /** The core's commits (ConsensusOutput.commits), in order. */
  committed(commits: readonly CommittedBlock[], now: number): PayloadOutput {
    this.begin(now);
    if (commits.length === 0) return this.finish();
    this.commitQueue.push(...commits);
    for (const c of commits) this.remember(c.block.payload);
    for (const c of commits) if (c.block.payload.length > 0 && c.block.round > this.appliedRound) this.unapplied.push(c);
    this.out.persistUnapplied = [...this.unapplied];
    this.pump();
    return this.finish();
  }

  /** The core's fetchPayload: batches of a block it received; `from` (its proposer) is asked first. */
  fetch(digests: readonly Hash[], from: number, now: number): PayloadOutput {
    this.begin(now);
    this.ask(digests, from);
    return this.finish();
  }

  /** A batch is here (own, or a peer's, verified). Returns whether it was new. */
  batchAvailable(digest: Hash, now: number): PayloadOutput {
    this.begin(now);
    const key = hex(digest);
    this.requested.delete(key);
    if (!this.available.has(key)) {
      this.available.add(key);
      this.pump();
    }
    return this.finish();
  }

  /** Whether this batch is here already. */
  has(digest: Hash): boolean {
    return this.available.has(hex(digest));
  }

  /**
   * Whether this batch belongs to a block already committed (waiting for delivery, or delivered
   * recently). Such a batch arriving must not be offered to the core as new: a core restarted
   * since that commit does not know it was ordered, would propose it again, and every honest
   * validator refuses to vote for a block re-proposing an ordered batch, so each round this node
   * leads would fail. (Batches the ledger applied long ago: ask the ledger.)
   */
  ordered(digest: Hash): boolean {
    return this.orderedDigests.has(hex(digest));
  }

  /**
   * Whether this batch's block was delivered (or skipped as applied before a restart), as long as
   * `ordered` remembers it. Its batches are released then, before the ledger has them: a copy that
   * arrives in between is needed for nothing, and one taken in would be held for good.
   */
  delivered(digest: Hash): boolean {
    return this.orderedDigests.get(hex(digest)) === true;
  }

  /** Whether a batch with this digest was asked for (an answer with anything else is unsolicited). */
  wanted(digest: Hash): boolean {
    return this.requested.has(hex(digest));
  }

  /** The ledger applied the delivered block of this round. */
  applied(round: number, now: number): PayloadOutput {
    this.begin(now);
    if (round > this.appliedRound) this.appliedRound = round;
    // Only in memory: the next commit's durable put carries the shorter list, and a restart
    // drops entries at or below the ledger's own round anyway.
    while (this.unapplied.length > 0 && this.unapplied[0]!.block.round <= round) this.unapplied.shift();
    this.pump();
    return this.finish();
  }

  onTick(now: number): PayloadOutput {
    this.begin(now);
    if (this.tickAt <= now) this.tickAt = 0;
    this.pump();
    return this.finish();
  }

  /** Delivers committed blocks in order, each once all of its batches are here; asks for the missing ones. */
  private pump(): void {
    while (this.commitQueue.length > 0) {
      const { block } = this.commitQueue[0]!;
      if (block.round <= this.appliedRound || block.payload.length === 0) {
        // Already applied (a commit seen again after a restart): its batches are not needed.
        this.releaseAll(block.payload);
        this.commitQueue.shift();
        continue;
      }
      const missing = block.payload.filter((d) => !this.available.has(hex(d)));
      if (missing.length > 0 && !this.cfg.unsafeDeliverIncomplete) {
        const first = this.waitingSince < 0;
        if (first) this.waitingSince = this.now;
        // The proposer first (it has them), then the other validators in turn.
        const to = this.ask(missing, first ? block.proposer : -1);
        const waitingMs = this.now - this.waitingSince;
        if (to !== undefined && waitingMs > 2 * this.cfg.timeoutMs) {
          this.out.events.push({ type: 'waiting-batches', round: block.round, height: block.height, missing, waitingMs, askedOf: to });
        }
        return;
      }
      this.waitingSince = -1;
      this.commitQueue.shift();
      this.releaseAll(block.payload);
      this.appliedRound = block.round;
      this.out.deliver.push({ block, digests: block.payload });
    }
    this.waitingSince = -1;
  }

  /**
   * Asks one validator for the digests that are missing, not being verified, and not asked for
   * within the retry period. Returns whom it asked (-1: nobody connected), undefined if nothing was due.
   */
  private ask(digests: readonly Hash[], preferred: number): number | undefined {
    const due = digests.filter((d) => {
      const key = hex(d);
      if (this.available.has(key) || this.cfg.verifying?.(key)) return false;
      const r = this.requested.get(key);
      return r === undefined || r.retryAt <= this.now;
    });
    if (due.length === 0) return undefined;
    const to = this.pick(preferred);
    if (to < 0) return -1;
    const request: Request = { until: this.now + 4 * this.cfg.timeoutMs, retryAt: this.now + this.retryMs() };
    for (const d of due) {
      const key = hex(d);
      // Re-inserted: the map's order stays the order of the latest ask, oldest first.
      this.requested.delete(key);
      this.requested.set(key, request);
    }
    this.bound();
    for (let i = 0; i < due.length; i += MAX_DIGESTS_PER_REQUEST) this.out.requests.push({ to, digests: due.slice(i, i + MAX_DIGESTS_PER_REQUEST) });
    return to;
  }

  /** Bounded: forget requests nobody answered, then (still many) the oldest; a digest asked again is simply re-added. */
  private bound(): void {
    if (this.requested.size <= 4 * MAX_DIGESTS_PER_REQUEST) return;
    for (const [k, r] of this.requested) if (r.until < this.now) this.requested.delete(k);
    for (const k of this.requested.keys()) {
      if (this.requested.size <= 16 * MAX_DIGESTS_PER_REQUEST) break;
      this.requested.delete(k);
    }
  }

  /**
   * `preferred` if connected (and not this node), else the next connected validator in turn (-1
   * if none): retries rotate, so a validator that never answers delays a block by one retry
   * period, not forever.
   */
  private pick(preferred: number): number {
    if (this.connected.size === 0) return -1;
    const list = [...this.connected].sort((a, b) => a - b);
    if (this.cfg.unsafeNoRotation) return list[0]!;
    if (preferred !== this.cfg.self && this.connected.has(preferred)) return preferred;
    return list[this.cursor++ % list.length]!;
  }

  private remember(digests: readonly Hash[]): void {
    for (const d of digests) if (!this.orderedDigests.has(hex(d))) this.orderedDigests.set(hex(d), false);
    for (const k of this.orderedDigests.keys()) {
      if (this.orderedDigests.size <= ORDERED_MEMORY) break;
      this.orderedDigests.delete(k);
    }
  }

  private releaseAll(digests: readonly Hash[]): void {
    for (const d of digests) {
      const key = hex(d);
      this.available.delete(key);
      this.requested.delete(key);
      if (this.orderedDigests.has(key)) this.orderedDigests.set(key, true);
      this.out.release.push(d);
    }
  }

  private retryMs(): number {
    return Math.max(50, Math.floor(this.cfg.timeoutMs / 2));
  }

  private begin(now: number): void {
    this.now = now;
    this.out = emptyOutput();
  }

  private finish(): PayloadOutput {
    if (this.waitingSince < 0) this.tickAt = 0;
    else if (this.tickAt === 0) this.tickAt = this.now + this.retryMs();
    this.out.timer = this.tickAt > 0 ? { at: this.tickAt } : null;
    return this.out;
  }
}

function emptyOutput(): PayloadOutput {
  return { requests: [], deliver: [], release: [], timer: null, events: [] };
}
