import { ConsensusCore, type ConsensusConfig, type ConsensusOutput } from '../../src/consensus/core.js';
import type { ConsensusCrypto } from '../../src/consensus/crypto.js';
import type { SafetyData } from '../../src/consensus/safety-rules.js';
import type { Block, CommittedBlock, ConsensusMessage } from '../../src/consensus/types.js';
import { EventQueue } from '../../src/sim/event-queue.js';

/**
 * A minimal in-process cluster for tests: fixed network delay, no faults except the ones a test
 * applies by hand (stopping a node). The simulator does the randomised version.
 */
export class Cluster {
  readonly cores: (ConsensusCore | null)[];
  readonly commits: CommittedBlock[][];
  readonly persisted: (SafetyData | undefined)[];
  /** Each node's durable committed chain by height (what it serves when `servesChain`). */
  readonly chains: Map<number, Block>[];
  /** Every output, in order, with the node that produced it: for ordering assertions. */
  readonly outputs: { node: number; out: ConsensusOutput }[] = [];
  now = 0;
  private readonly q = new EventQueue<() => void>();
  private readonly timerVersion: number[];
  private readonly cryptos: ConsensusCrypto[];

  constructor(
    readonly n: number,
    cryptos: ConsensusCrypto[],
    readonly opts: {
      timeoutMs: number;
      heartbeatMs: number;
      delayMs: number;
      /** Extra core config for every node (e.g. retainCommitted, leaderElection). */
      core?: Partial<ConsensusConfig>;
      /** Nodes get a `committedChain` port over their stored chain. */
      servesChain?: boolean;
      /** Rewrites or drops (null) a message in flight: a Byzantine sender. */
      tamper?: (from: number, to: number, msg: ConsensusMessage) => ConsensusMessage | null;
      /**
       * Steady load: a fresh batch reaches every running node this often. An idle cluster makes
       * no blocks, so tests that need a long chain need load.
       */
      loadEveryMs?: number;
    },
  ) {
    this.cryptos = cryptos;
    this.chains = cryptos.map(() => new Map());
    this.cores = cryptos.map((_, self) => this.makeCore(self, {}));
    this.commits = cryptos.map(() => []);
    this.persisted = cryptos.map(() => undefined);
    this.timerVersion = cryptos.map(() => 0);
    this.cores.forEach((c, i) => this.apply(i, c!.start(0)));
    if (opts.loadEveryMs !== undefined) this.scheduleLoad(opts.loadEveryMs, 0);
  }

  /** Batches injected by `loadEveryMs` so far. */
  loadBatches = 0;

  private scheduleLoad(every: number, k: number): void {
    this.q.push(this.now + every, () => {
      const d = new Uint8Array(32);
      new DataView(d.buffer).setUint32(0, k);
      d[31] = 0x10;
      this.loadBatches = k + 1;
      this.inject(d);
      this.scheduleLoad(every, k + 1);
    });
  }

  private apply(i: number, out: ConsensusOutput): void {
    this.outputs.push({ node: i, out });
    if (out.persist) this.persisted[i] = out.persist;
    for (const s of out.send) {
      const targets = s.to === 'all' ? [...Array(this.n).keys()].filter((t) => t !== i) : [s.to];
      for (const t of targets) this.deliverLater(i, t, s.msg);
    }
    this.commits[i]!.push(...out.commits);
    for (const c of out.commits) this.chains[i]!.set(c.block.height, c.block);
    for (const fp of out.fetchPayload) for (const d of fp.digests) this.q.push(this.now + this.opts.delayMs, () => this.payload(i, d));
    if (out.timer) {
      const v = ++this.timerVersion[i]!;
      this.q.push(Math.max(out.timer.at, this.now), () => {
        const c = this.cores[i];
        if (c && v === this.timerVersion[i]) this.apply(i, c.onTick(this.now));
      });
    }
  }

  private deliverLater(from: number, to: number, sent: ConsensusMessage): void {
    const msg = this.opts.tamper ? this.opts.tamper(from, to, sent) : sent;
    if (msg === null) return;
    this.q.push(this.now + this.opts.delayMs, () => {
      const c = this.cores[to];
      if (c) this.apply(to, c.onMessage(from, msg, this.now));
    });
  }

  /** Hand `msg` to node `to` now, as if `from` had sent it (a Byzantine sender's extra traffic). */
  deliver(from: number, to: number, msg: ConsensusMessage): void {
    const c = this.cores[to];
    if (c) this.apply(to, c.onMessage(from, msg, this.now));
  }

  private payload(i: number, d: Uint8Array): void {
    const c = this.cores[i];
    if (c) this.apply(i, c.onPayloadAvailable(d, this.now));
  }

  /** Announce a batch to every running node. */
  inject(d: Uint8Array): void {
    for (let i = 0; i < this.n; i++) this.payload(i, d);
  }

  /** Bring a stopped node back with only what a real node would have on disk. */
  restart(i: number, restore: { safety?: SafetyData; root?: CommittedBlock }): void {
    const core = this.makeCore(i, restore);
    this.cores[i] = core;
    this.apply(i, core.start(this.now));
  }

  private makeCore(self: number, restore: { safety?: SafetyData; root?: CommittedBlock }): ConsensusCore {
    const chain = this.chains[self]!;
    return new ConsensusCore({
      chainId: 1,
      validators: this.n,
      self,
      timeoutMs: this.opts.timeoutMs,
      heartbeatMs: this.opts.heartbeatMs,
      crypto: this.cryptos[self]!,
      ...this.opts.core,
      committedChain: this.opts.servesChain ? { get: (h) => chain.get(h) } : undefined,
      ...restore,
    });
  }

  stop(i: number): void {
    this.cores[i] = null;
  }

  runUntil(t: number): void {
    for (;;) {
      const e = this.q.pop();
      if (e === undefined) break;
      if (e.at > t) {
        this.q.push(e.at, e.item);
        break;
      }
      this.now = e.at;
      e.item();
    }
    this.now = t;
  }
}
