import { MAX_RECORDS_PER_FOLLOW } from './peer-wire.js';

/** Newest committed records kept in memory: the store's write of them is not awaited. */
const RECENT = 4 * MAX_RECORDS_PER_FOLLOW;

/** `R`: a committed record as the feed passes it on (encoded bytes in a node, objects in the simulator). */
export interface FeedMessage<R = Uint8Array> {
  to: number;
  /** Committed records (CommittedBlock), oldest first. */
  records: R[];
  /** The validator's live 2-chain, when `records` end at its committed root. */
  proof?: R;
}

export interface FollowerFeedOptions<R> {
  /** A committed record from the consensus store (undefined: never stored or pruned). */
  stored: (height: number) => R | undefined;
  /** The committed root's height when the feed starts (a restarted validator). */
  rootHeight: number;
}

/**
 * A validator's side of following, sans-I/O: answers a follower's subscription with a chunk of
 * committed records from its store (the follower checks them; it does not trust us) and pushes
 * every new commit to live subscribers. It never waits on a follower: a slow or lost one finds
 * the gap in what it receives and asks again.
 */
export class FollowerFeed<R = Uint8Array> {
  /** Live subscribers and the height each should receive next. */
  private readonly live = new Map<number, number>();
  private readonly recent = new Map<number, R>();
  private rootHeight: number;
  private proof: R | undefined;

  constructor(private readonly o: FollowerFeedOptions<R>) {
    this.rootHeight = o.rootHeight;
  }

  get subscribers(): number {
    return this.live.size;
  }

  /** A follower asks for records from `fromHeight`; `live`: and every commit after them. */
  subscribe(from: number, fromHeight: number, live: boolean): FeedMessage<R>[] {
    const records: R[] = [];
    let h = fromHeight;
    for (; h <= this.rootHeight && records.length < MAX_RECORDS_PER_FOLLOW; h++) {
      const r = this.recent.get(h) ?? this.o.stored(h);
      if (!r) break;
      records.push(r);
    }
    if (live) this.live.set(from, h);
    if (records.length === 0) return [];
    const atRoot = h === this.rootHeight + 1;
    return [{ to: from, records, ...(atRoot && this.proof ? { proof: this.proof } : {}) }];
  }

  /** New commits of this validator (heights consecutive, oldest first) and the 2-chain proving the last. */
  committed(records: { height: number; bytes: R }[], proof: R | undefined): FeedMessage<R>[] {
    if (records.length === 0) return [];
    for (const r of records) {
      this.recent.set(r.height, r.bytes);
      this.recent.delete(r.height - RECENT);
    }
    const first = records[0]!.height;
    this.rootHeight = records[records.length - 1]!.height;
    this.proof = proof;
    const out: FeedMessage<R>[] = [];
    for (const [to, next] of this.live) {
      // Ahead of these already (it asked from a higher height): nothing for it here.
      if (next > this.rootHeight) continue;
      // Behind: it gets the new records anyway, sees the gap and asks for what it lacks.
      const send = records.slice(Math.max(0, next - first)).map((r) => r.bytes);
      for (let i = 0; i < send.length; i += MAX_RECORDS_PER_FOLLOW) {
        const chunk = send.slice(i, i + MAX_RECORDS_PER_FOLLOW);
        const last = i + MAX_RECORDS_PER_FOLLOW >= send.length;
        out.push({ to, records: chunk, ...(last && proof ? { proof } : {}) });
      }
      this.live.set(to, this.rootHeight + 1);
    }
    return out;
  }

  /** The follower's link went down: it subscribes again when it comes back. */
  drop(member: number): void {
    this.live.delete(member);
  }
}
