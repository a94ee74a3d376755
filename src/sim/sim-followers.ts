import { decodeCommittedBlock, encodeCommittedBlock } from '../consensus/codec.js';
import type { ConsensusCrypto } from '../consensus/crypto.js';
import { hex, makeBlock, type CommittedBlock } from '../consensus/types.js';
import { FollowerCore, type FollowerOutput } from '../ordering/follower-core.js';
import { FollowerFeed, type FeedMessage } from '../ordering/follower-feed.js';
import type { EventQueue } from './event-queue.js';
import type { InvariantChecker } from './invariants.js';
import type { Prng } from './prng.js';

/** Follower traffic, scheduled on the simulator's queue. */
export type FollowerEv =
  | { kind: 'to-validator'; from: number; to: number; msg: FollowerOutput['send'][number]['msg'] }
  | { kind: 'to-follower'; from: number; to: number; records: CommittedBlock[]; proof?: CommittedBlock }
  | { kind: 'batch'; to: number; digest: Uint8Array }
  | { kind: 'tick'; follower: number; version: number }
  | { kind: 'crash'; follower: number }
  | { kind: 'restart'; follower: number };

interface SimFollower {
  /** Member index: validators are 0..n-1. */
  member: number;
  core: FollowerCore | null;
  /** What the node persisted (FollowerOutput.persistRoot) and the round its ledger applied. */
  root: CommittedBlock;
  appliedRound: number;
  delivered: Set<string>;
  timerVersion: number;
}

export interface SimValidatorView {
  alive(v: number): boolean;
  byzantine(v: number): boolean;
  /** The validator holds this batch (answers a batch request with it). */
  hasBatch(v: number, digest: Uint8Array): boolean;
  isKnownBatch(digest: Uint8Array): boolean;
}

/**
 * Business and slim nodes in the simulator: each runs the production FollowerCore, and each
 * validator serves them through the production FollowerFeed, over the same lossy, delaying,
 * duplicating network as consensus. Byzantine validators answer with forged runs (a block changed
 * under a QC whose block hash is rewritten, so only the signature check can catch it). Every
 * block a follower accepts goes through the same invariant checker as validators' commits.
 */
export class SimFollowers {
  private readonly followers: SimFollower[];
  private readonly feeds: (FollowerFeed<CommittedBlock> | null)[];
  private readonly records: Map<number, CommittedBlock>[];
  forgedRuns = 0;
  invalidRunsSeen = 0;

  constructor(
    private readonly o: {
      count: number;
      validators: number;
      chainId: number;
      timeoutMs: number;
      crypto: ConsensusCrypto;
      q: Pick<EventQueue<{ kind: 'follower'; ev: FollowerEv }>, 'push'>;
      rng: Prng;
      checker: InvariantChecker;
      view: SimValidatorView;
      genesis: CommittedBlock;
      /** Round-trip every record through the wire codec (with real crypto). */
      codec: boolean;
    },
  ) {
    this.feeds = Array.from({ length: o.validators }, () => null);
    this.records = Array.from({ length: o.validators }, () => new Map());
    this.followers = Array.from({ length: o.count }, (_, j) => ({
      member: o.validators + j,
      core: null,
      root: o.genesis,
      appliedRound: 0,
      delivered: new Set(),
      timerVersion: 0,
    }));
  }

  get count(): number {
    return this.followers.length;
  }

  /** Followers start after validators; a crash and a restart of each is scheduled during faults. */
  start(now: number, faultMs: number): void {
    for (const f of this.followers) {
      this.boot(f, now);
      if (this.o.rng.chance(0.5) && faultMs > 400) {
        const at = this.o.rng.int(100, faultMs - 300);
        this.o.q.push(at, { kind: 'follower', ev: { kind: 'crash', follower: f.member } });
        this.o.q.push(at + this.o.rng.int(50, 800), { kind: 'follower', ev: { kind: 'restart', follower: f.member } });
      }
    }
  }

  validatorBooted(v: number, rootHeight: number, now: number): void {
    this.feeds[v] = new FollowerFeed<CommittedBlock>({ stored: (h) => this.records[v]!.get(h), rootHeight });
    for (const f of this.followers) if (f.core) this.apply(f, f.core.peerUp(v, now), now);
  }

  validatorCrashed(v: number, now: number): void {
    this.feeds[v] = null;
    for (const f of this.followers) if (f.core) this.apply(f, f.core.peerDown(v, now), now);
  }

  /** A validator's new commits (its consensus output), pushed to its live subscribers. */
  committed(v: number, commits: readonly CommittedBlock[], proof: CommittedBlock | undefined, now: number, healed: boolean, dropP: number): void {
    const recs = commits.map((c) => ({ height: c.block.height, bytes: c }));
    for (const c of commits) this.records[v]!.set(c.block.height, c);
    const feed = this.feeds[v];
    if (!feed || this.followers.length === 0) return;
    this.sendFeed(v, feed.committed(recs, proof), now, healed, dropP);
  }

  /** Also persisted by the validator: its store of committed records survives a crash. */
  handle(ev: FollowerEv, now: number, healed: boolean, dropP: number): void {
    switch (ev.kind) {
      case 'to-validator': {
        const feed = this.feeds[ev.to];
        if (!feed || !this.o.view.alive(ev.to)) return;
        if (ev.msg.type === 'subscribe') this.sendFeed(ev.to, feed.subscribe(ev.from, ev.msg.fromHeight, ev.msg.live), now, healed, dropP);
        else if (!this.o.view.byzantine(ev.to)) {
          for (const d of ev.msg.digests) {
            if (!this.o.view.hasBatch(ev.to, d) || (!healed && this.o.rng.chance(dropP))) continue;
            this.o.q.push(now + this.o.rng.int(1, 20), { kind: 'follower', ev: { kind: 'batch', to: ev.from, digest: d } });
          }
        }
        return;
      }
      case 'to-follower': {
        const f = this.followers[ev.to - this.o.validators]!;
        if (!f.core) return;
        const wire = (c: CommittedBlock): CommittedBlock => (this.o.codec ? decodeCommittedBlock(encodeCommittedBlock(c)) : c);
        this.apply(f, f.core.onCommits(ev.from, ev.records.map(wire), ev.proof && wire(ev.proof), now), now);
        return;
      }
      case 'batch': {
        const f = this.followers[ev.to - this.o.validators]!;
        if (f.core && this.o.view.isKnownBatch(ev.digest) && f.core.wanted(ev.digest)) this.apply(f, f.core.batchAvailable(ev.digest, now), now);
        return;
      }
      case 'tick': {
        const f = this.followers[ev.follower - this.o.validators]!;
        if (f.core && ev.version === f.timerVersion) this.apply(f, f.core.onTick(now), now);
        return;
      }
      case 'crash': {
        const f = this.followers[ev.follower - this.o.validators]!;
        f.core = null;
        f.timerVersion++;
        return;
      }
      case 'restart': {
        const f = this.followers[ev.follower - this.o.validators]!;
        if (!f.core) this.boot(f, now);
        return;
      }
    }
  }

  /** Followers still down at the heal come back then. */
  healed(now: number): void {
    for (const f of this.followers) if (!f.core) this.boot(f, now);
  }

  /** Post-heal batches a follower never executed (liveness). */
  missing(late: readonly Uint8Array[]): string[] {
    const out: string[] = [];
    for (const f of this.followers) {
      const lost = late.filter((d) => !f.delivered.has(hex(d))).length;
      if (lost > 0) out.push(`follower ${f.member} lacks ${lost}/${late.length} post-heal batches (height ${f.core?.height ?? f.root.block.height})`);
    }
    return out;
  }

  private boot(f: SimFollower, now: number): void {
    f.core = new FollowerCore({
      chainId: this.o.chainId,
      validators: this.o.validators,
      crypto: this.o.crypto,
      retryMs: this.o.timeoutMs,
      root: f.root,
      appliedRound: f.appliedRound,
    });
    for (let v = 0; v < this.o.validators; v++) if (this.o.view.alive(v) && f.core) this.apply(f, f.core.peerUp(v, now), now);
  }

  private apply(f: SimFollower, out: FollowerOutput, now: number): void {
    const core = f.core;
    if (!core) return;
    for (const s of out.send) this.o.q.push(now + this.o.rng.int(1, 30), { kind: 'follower', ev: { kind: 'to-validator', from: f.member, to: s.to, msg: s.msg } });
    for (const b of out.committed) {
      if (b.height <= this.o.checker.heightOf(f.member)) this.o.checker.onKnown(f.member, b);
      else this.o.checker.onCommit(f.member, b);
    }
    for (const b of out.deliver) {
      for (const d of b.payload) f.delivered.add(hex(d));
      // The ledger applies at once here; a real node reports it when the block is durable.
      f.appliedRound = b.round;
    }
    for (const e of out.events) if (e.type === 'invalid') this.invalidRunsSeen++;
    if (out.persistRoot) f.root = out.persistRoot;
    let next = out;
    if (out.deliver.length > 0) {
      next = core.applied(f.appliedRound, now);
      if (next.persistRoot) f.root = next.persistRoot;
      for (const s of next.send) this.o.q.push(now + this.o.rng.int(1, 30), { kind: 'follower', ev: { kind: 'to-validator', from: f.member, to: s.to, msg: s.msg } });
    }
    const timer = next.timer ?? out.timer;
    if (timer !== null) {
      f.timerVersion++;
      this.o.q.push(Math.max(timer.at, now), { kind: 'follower', ev: { kind: 'tick', follower: f.member, version: f.timerVersion } });
    }
  }

  private sendFeed(v: number, msgs: FeedMessage<CommittedBlock>[], now: number, healed: boolean, dropP: number): void {
    for (const m of msgs) {
      if (!healed && this.o.rng.chance(dropP)) continue;
      let records = m.records;
      let proof = m.proof;
      if (this.o.view.byzantine(v)) ({ records, proof } = this.forge(records, proof));
      const ev: FollowerEv = { kind: 'to-follower', from: v, to: m.to, records, ...(proof ? { proof } : {}) };
      this.o.q.push(now + this.o.rng.int(1, 30), { kind: 'follower', ev });
      if (!healed && this.o.rng.chance(dropP / 4)) this.o.q.push(now + this.o.rng.int(1, 60), { kind: 'follower', ev });
    }
  }

  /**
   * A Byzantine validator's run: its newest record gets a payload it never committed, with the
   * QC's block hash (and the proof's parent) rewritten to match, so the run links and only the
   * quorum signatures can tell.
   */
  private forge(records: CommittedBlock[], proof: CommittedBlock | undefined): { records: CommittedBlock[]; proof?: CommittedBlock } {
    this.forgedRuns++;
    const recs = [...records];
    const last = recs[recs.length - 1]!;
    const { hash: _h, ...header } = last.block;
    const forged = makeBlock({ ...header, payload: [...header.payload, this.o.rng.bytes(32)] });
    recs[recs.length - 1] = { block: forged, qc: { ...last.qc, blockHash: forged.hash } };
    let p: CommittedBlock | undefined;
    if (proof) {
      const c = proof;
      const { hash: _c, ...ch } = c.block;
      const child = makeBlock({ ...ch, parentHash: forged.hash, qc: { ...ch.qc, blockHash: forged.hash } });
      p = { block: child, qc: { ...c.qc, blockHash: child.hash } };
    }
    return { records: recs, ...(p ? { proof: p } : {}) };
  }
}
