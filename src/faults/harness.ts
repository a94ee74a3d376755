import { rmSync } from 'node:fs';
import { planTopology, writeTopology, type Topology } from '../cluster/topology.js';
import { ClusterSupervisor, waitClusterReady, type ExitReport } from '../cluster/supervisor.js';
import { consensusStatus, getJson, postTxs, stats, tryGetJson } from '../cluster/http.js';
import { BlockWatcher, SteadyLoad, loadRecipients } from '../cluster/load.js';
import { devnetKeyPair } from '../workload/generate.js';
import { devnetValidatorKey } from '../node/validator-set.js';
import { faultTolerance } from '../consensus/types.js';
import type { KeyPair } from '../crypto/keys.js';
import type { PeerInfo } from '../network/index.js';
import { FaultNet } from './proxy.js';
import { ByzantinePeer } from './byzantine.js';
import { RssSampler } from './rss.js';
import { RootLedger, balanceSum, notCommitted, txStatus } from './audit.js';
import type { AttackContext } from './attacks.js';

export interface HarnessOptions {
  dir: string;
  validators: number;
  chainId: number;
  timeoutMs: number;
  /** Load per validator: `perTick` signed transfers every `tickMs`. */
  perTick: number;
  tickMs: number;
  /** Upper bound of the campaign's length, to size the pre-signed load. */
  maxSeconds: number;
  log: (s: string) => void;
}

/** Accounts: lanes of load senders first, then a few reserved for attacks. */
const SENDERS_PER_VALIDATOR = 4;
const RESERVED_ACCOUNTS = 4;
export const DEVNET_BALANCE = 1_000_000_000;

export interface CommitEvent {
  at: number;
  height: number;
}

/**
 * A real cluster under the campaign's control: N validator processes (src/cluster supervisor) whose
 * peer links all run through the fault proxies, the independent load client and one block watcher
 * per validator, acknowledged ids, memory sampling, and the Byzantine member when one is in place.
 */
export class Harness {
  readonly n: number;
  readonly f: number;
  readonly quorum: number;
  topo!: Topology;
  sup!: ClusterSupervisor;
  net!: FaultNet;
  load!: SteadyLoad;
  rss!: RssSampler;
  readonly roots = new RootLedger();
  /** Acknowledged tx ids: seen as committed in some validator's block stream; `ackedLog` in that order. */
  readonly acked = new Set<string>();
  readonly ackedLog: string[] = [];
  /** Ids in blocks that had execution rejections: their status is resolved before an audit. */
  private readonly uncertain = new Map<string, number>();
  readonly commits: CommitEvent[][];
  private readonly watchers: (BlockWatcher | undefined)[];
  /** Validators SIGSTOPped right now (cleanup sends SIGCONT before killing). */
  readonly stopped = new Set<number>();
  /** Load lanes held by a fault until the next audit re-syncs their nonces. */
  readonly heldLanes = new Set<number>();
  readonly unexpectedExits: ExitReport[] = [];
  byzantine: ByzantinePeer | undefined;
  readonly accounts: string[];
  readonly supply: number;
  readonly victim: KeyPair;

  constructor(readonly o: HarnessOptions) {
    this.n = o.validators;
    ({ f: this.f, quorum: this.quorum } = faultTolerance(this.n));
    this.commits = Array.from({ length: this.n }, () => []);
    this.watchers = new Array(this.n).fill(undefined);
    const funded = this.n * SENDERS_PER_VALIDATOR + RESERVED_ACCOUNTS;
    this.accounts = [
      ...Array.from({ length: funded }, (_, i) => Buffer.from(devnetKeyPair(o.chainId, i).publicKey).toString('hex')),
      ...loadRecipients(o.chainId).map((pk) => Buffer.from(pk).toString('hex')),
    ];
    this.supply = funded * DEVNET_BALANCE;
    this.victim = devnetKeyPair(o.chainId, this.n * SENDERS_PER_VALIDATOR);
  }

  get fundedAccounts(): number {
    return this.n * SENDERS_PER_VALIDATOR + RESERVED_ACCOUNTS;
  }

  async start(): Promise<void> {
    const o = this.o;
    this.topo = await planTopology({
      validators: this.n,
      dir: o.dir,
      basePort: 0,
      chainId: o.chainId,
      accounts: this.fundedAccounts,
      threads: 1,
      timeoutMs: o.timeoutMs,
      heartbeatMs: 100,
    });
    this.net = await FaultNet.open(this.topo.nodes.map((s) => ({ host: s.host, port: s.peerPort })));
    writeTopology(this.topo, {
      logLevel: 'info',
      devnetBalance: DEVNET_BALANCE,
      extra: { pipeline: { batchTimeoutMs: 5, batchSize: 2_000 }, storage: { cacheSizeMb: 16, mapSizeMb: 1024 } },
      route: (from, to) =>
        this.net.address(
          from.index,
          this.topo.validators.findIndex((v) => v.id === to.id),
        ),
    });
    this.sup = new ClusterSupervisor(this.topo, { graceMs: 5_000 });
    this.sup.on('exit', (r) => {
      this.watchers[r.index]?.close();
      this.watchers[r.index] = undefined;
      if (!r.expected) {
        this.unexpectedExits.push(r);
        o.log(`!! ${r.id} exited unexpectedly (${r.signal ?? `code ${r.code}`}); stderr ends with:\n${r.stderrTail.slice(-1500)}`);
      }
    });
    o.log(`starting ${this.n} validators (f = ${this.f}, quorum ${this.quorum}, consensus timeout ${o.timeoutMs} ms) in ${o.dir}`);
    await this.sup.start();
    await waitClusterReady(this.sup, 30_000);
    for (let i = 0; i < this.n; i++) await this.watch(i);
    const maxTxs = Math.ceil((o.maxSeconds * 1000) / o.tickMs) * o.perTick;
    this.load = new SteadyLoad(this.sup, o.chainId, 0, SENDERS_PER_VALIDATOR, o.perTick, o.tickMs, maxTxs);
    this.rss = new RssSampler(() => Array.from({ length: this.n }, (_, i) => (this.sup.isRunning(i) ? this.sup.pid(i) : undefined)));
    this.rss.start();
    this.load.start();
  }

  /** Set by stop(): nothing is started any more (a fault still running must not respawn a validator). */
  private closed = false;

  /** Stops everything this harness started; safe to call twice and after a failed start. */
  async stop(): Promise<void> {
    this.closed = true;
    this.load?.stop();
    this.rss?.stop();
    for (const w of this.watchers) w?.close();
    if (this.sup) {
      for (const i of this.stopped) this.signal(i, 'SIGCONT');
      this.stopped.clear();
      await this.sup.stop();
    }
    await this.byzantine?.close().catch(() => undefined);
    this.byzantine = undefined;
    await this.net?.close();
  }

  url(i: number): string {
    return this.sup.url(i);
  }

  /** Validators running honest code and not SIGSTOPped. */
  honest(): number[] {
    return Array.from({ length: this.n }, (_, i) => i).filter((i) => this.sup.isRunning(i) && !this.stopped.has(i));
  }

  async leader(): Promise<number> {
    const from = this.honest()[0]!;
    const s = await consensusStatus(this.url(from));
    const i = this.topo.nodes.findIndex((x) => x.id === s.leader);
    return i >= 0 ? i : from;
  }

  signal(i: number, sig: 'SIGSTOP' | 'SIGCONT'): void {
    const pid = this.sup.pid(i);
    if (pid === undefined) return;
    process.kill(pid, sig);
    if (sig === 'SIGSTOP') this.stopped.add(i);
    else this.stopped.delete(i);
  }

  async kill(i: number): Promise<void> {
    await this.sup.kill(i, 'SIGKILL');
  }

  /** Starts validator i again (after a kill), its load lane held until the next audit re-syncs it. */
  async restart(i: number, wipe = false): Promise<void> {
    if (this.closed) throw new Error('the campaign is stopping');
    if (wipe) {
      rmSync(this.topo.nodes[i]!.dataDir, { recursive: true, force: true });
      this.roots.forget(this.url(i));
    }
    this.heldLanes.add(i);
    this.load.pause(i);
    await this.sup.startOne(i);
    await this.watch(i);
  }

  height(i: number): number {
    return this.commits[i]!.at(-1)?.height ?? 0;
  }

  /** ms from `t` until every listed validator committed a block after `t`; undefined if one did not within timeoutMs. */
  async firstCommitAfter(nodes: number[], t: number, timeoutMs: number): Promise<number | undefined> {
    const until = t + timeoutMs;
    for (;;) {
      const firsts = nodes.map((i) => this.commits[i]!.find((c) => c.at > t)?.at);
      if (firsts.every((x) => x !== undefined)) return Math.max(...(firsts as number[])) - t;
      if (Date.now() > until) return undefined;
      await sleep(20);
    }
  }

  /** Largest gap between consecutive commits of the listed validators in [from, to] (from counts as a commit). */
  commitsBetween(i: number, from: number, to: number): number {
    return this.commits[i]!.filter((c) => c.at > from && c.at <= to).length;
  }

  // --- Byzantine member ---------------------------------------------------------------------

  /** Replaces validator `index`'s process by the Byzantine peer holding its key. */
  async ensureByzantine(index = 0): Promise<ByzantinePeer> {
    if (this.closed) throw new Error('the campaign is stopping');
    if (this.byzantine) return this.byzantine;
    if (this.sup.isRunning(index)) await this.kill(index);
    this.load.pause(index);
    const spec = this.topo.nodes[index]!;
    const validators: PeerInfo[] = this.topo.validators.map((v, i) => ({
      index: i,
      publicKey: Buffer.from(v.publicKey, 'hex'),
      ...(i === index ? { host: spec.host, port: spec.peerPort } : this.net.address(index, i)),
    }));
    const peer = new ByzantinePeer({ index, key: devnetValidatorKey(this.o.chainId, index), chainId: this.o.chainId, validators });
    this.byzantine = peer;
    await peer.start();
    if (!(await peer.connected(20_000))) this.o.log(`!! the Byzantine v${index} is not connected to every honest validator after 20 s`);
    const until = Date.now() + 5_000;
    while (!peer.observed.proposal && Date.now() < until) await sleep(50);
    return peer;
  }

  /** The Byzantine peer leaves; the honest validator process comes back on its data dir. */
  async ensureHonest(): Promise<void> {
    const b = this.byzantine;
    if (!b) return;
    this.byzantine = undefined;
    await b.close();
    await this.restart(b.index);
  }

  attackContext(peer: ByzantinePeer): AttackContext {
    const honestUrl = () => this.url(this.honest()[0]!);
    return {
      peer,
      chainId: this.o.chainId,
      validators: this.n,
      victim: this.victim,
      recipient: loadRecipients(this.o.chainId)[0]!,
      nextNonce: async () => {
        const a = await tryGetJson<{ nonce: number }>(`${honestUrl()}/api/v11/accounts/${Buffer.from(this.victim.publicKey).toString('hex')}`);
        return (a?.nonce ?? 0) + 1;
      },
      submit: async (txs) => (await postTxs(honestUrl(), txs)).accepted,
      committedEverywhere: async (id, timeoutMs) => {
        const until = Date.now() + timeoutMs;
        while (Date.now() < until) {
          const s = await Promise.all(this.honest().map((i) => txStatus(this.url(i), id)));
          if (s.every((x) => x === 'committed')) return true;
          await sleep(100);
        }
        return false;
      },
    };
  }

  // --- audit --------------------------------------------------------------------------------

  /**
   * With the load paused and the survivors drained to one height: acknowledged ids committed on
   * every survivor, hashes and roots equal at every height, supply conserved. `allIdsOn` are
   * validators that must be checked for every id ever acknowledged (restarted, wiped), the others
   * for the ids acknowledged since `sinceCount`.
   */
  async audit(survivors: number[], windowIds: string[], allIdsOn: Set<number>, convergeMs: number): Promise<AuditResult> {
    const failures: string[] = [];
    const notes: string[] = [];
    for (let j = 0; j < this.n; j++) this.load.pause(j);
    await this.load.idle();
    const conv = await this.converge(survivors, convergeMs);
    if (!conv.ok) failures.push(`survivors did not reach one height within ${convergeMs} ms: ${conv.detail}`);
    else if (conv.note) notes.push(conv.note);
    await this.resolveUncertain();
    // Lost: every acknowledged id committed on every survivor.
    const all = [...this.acked];
    const window = windowIds.filter((id) => this.acked.has(id));
    let lost = 0;
    for (const i of survivors) {
      const ids = allIdsOn.has(i) ? all : window;
      const { missing, statuses } = await notCommitted(this.url(i), ids);
      if (missing.length > 0) {
        lost = Math.max(lost, missing.length);
        failures.push(
          `${missing.length} acknowledged txs not committed on v${i} (e.g. ${missing
            .slice(0, 3)
            .map((id) => `${id.slice(0, 12)}: ${statuses.get(id)}`)
            .join(', ')})`,
        );
      }
    }
    // Roots: every height up to the common one.
    const common = Math.min(...(await Promise.all(survivors.map(async (i) => (await stats(this.url(i))).height))));
    let rootsAgree = true;
    for (const i of survivors) {
      const bad = await this.roots.check(this.url(i), common, `v${i}`);
      if (bad.length > 0) {
        rootsAgree = false;
        failures.push(`v${i} disagrees at ${bad.length} heights: ${bad[0]}`);
      }
    }
    // Supply: at one stable height on each survivor.
    let supplyOk = true;
    for (const i of survivors) {
      const sum = await this.stableBalanceSum(i);
      if (sum !== this.supply) {
        supplyOk = false;
        failures.push(`v${i}: balances sum to ${sum}, genesis supply is ${this.supply}`);
      }
    }
    // Lanes held by a fault: re-sign from the committed nonces (nothing of theirs is in flight now).
    for (const j of [...this.heldLanes]) {
      if (!this.sup.isRunning(j)) continue;
      const src = this.url(survivors.find((i) => i !== j) ?? j);
      const nonces = await Promise.all(
        this.load.sendersOf(j).map(async (k) => ((await tryGetJson<{ nonce: number }>(`${src}/api/v11/accounts/${Buffer.from(k.publicKey).toString('hex')}`))?.nonce ?? 0) + 1),
      );
      this.load.resync(j, nonces);
      this.heldLanes.delete(j);
    }
    for (let j = 0; j < this.n; j++) if (!this.heldLanes.has(j) && !this.stopped.has(j)) this.load.resume(j);
    return { lost, rootsAgree, supplyOk, failures, notes, height: common };
  }

  /** Waits for empty mempools and one height on all survivors (a mempool with a stuck tx is noted, not awaited for ever). */
  private async converge(survivors: number[], timeoutMs: number): Promise<{ ok: boolean; detail: string; note?: string }> {
    const until = Date.now() + timeoutMs;
    let detail = '';
    let sameSince = 0;
    for (;;) {
      const s = await Promise.all(survivors.map((i) => stats(this.url(i)).catch(() => undefined)));
      detail = s.map((x, k) => `v${survivors[k]}@${x?.height ?? '?'}/mempool ${x?.mempool.size ?? '?'}`).join(' ');
      const h0 = s[0]?.height;
      const same = s.every((x) => x && x.height === h0);
      if (same && s.every((x) => x!.mempool.size === 0)) return { ok: true, detail };
      if (same) sameSince ||= Date.now();
      else sameSince = 0;
      // Txs that can never commit (a nonce gap) keep a mempool non-empty: one height held for 3 s is enough.
      if (same && Date.now() - sameSince > 3_000 && Date.now() > until - timeoutMs / 2) return { ok: true, detail, note: `mempools not empty at the audit: ${detail}` };
      if (Date.now() > until) return { ok: false, detail };
      await sleep(100);
    }
  }

  private async stableBalanceSum(i: number): Promise<number> {
    for (let k = 0; ; k++) {
      const h1 = (await stats(this.url(i))).height;
      const sum = await balanceSum(this.url(i), this.accounts);
      const h2 = (await stats(this.url(i))).height;
      if (h1 === h2 || k >= 5) return sum;
    }
  }

  private async resolveUncertain(): Promise<void> {
    const list = [...this.uncertain];
    this.uncertain.clear();
    for (let k = 0; k < list.length; k += 32) {
      await Promise.all(
        list.slice(k, k + 32).map(async ([id, i]) => {
          const base = this.sup.isRunning(i) ? this.url(i) : this.url(this.honest()[0]!);
          if ((await txStatus(base, id)) === 'committed') this.ack(id);
        }),
      );
    }
  }

  private ack(id: string): void {
    if (this.acked.has(id)) return;
    this.acked.add(id);
    this.ackedLog.push(id);
  }

  private async watch(i: number): Promise<void> {
    this.watchers[i]?.close();
    const w = await BlockWatcher.open(this.url(i));
    w.onBlock = (b, ids) => {
      this.commits[i]!.push({ at: b.at, height: b.height });
      if (b.rejected === 0) for (const id of ids) this.ack(id);
      else for (const id of ids) if (!this.acked.has(id)) this.uncertain.set(id, i);
    };
    this.watchers[i] = w;
  }

  async info(i: number): Promise<{ height: number }> {
    return getJson<{ height: number }>(`${this.url(i)}/api/v11/stats`);
  }
}

export interface AuditResult {
  lost: number;
  rootsAgree: boolean;
  supplyOk: boolean;
  failures: string[];
  notes: string[];
  height: number;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
