import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planTopology, writeTopology, type Topology } from '../../src/cluster/topology.js';
import { ClusterSupervisor, waitClusterReady, type ExitReport } from '../../src/cluster/supervisor.js';
import { consensusStatus, getJson, latestBlock, postTxs, stats, tryGetJson, viewChangesOf } from '../../src/cluster/http.js';
import { generateTransfers, devnetKeyPair } from '../../src/workload/generate.js';
import { txId } from '../../src/tx/codec.js';
import type { BlockView, TxStatusView } from '../../src/node/node-api.js';
import { BlockWatcher, SteadyLoad } from './load.js';
import { pollUntil } from '../support/poll.js';

/**
 * Real processes: 4 validators (`hotledger start --config …`, 1 verify thread each) on loopback,
 * supervised by src/cluster. Tests run in order and share the cluster.
 */
const N = 4;
const CHAIN = 4242;
const TIMEOUT_MS = 1_000;
const SENDERS_PER_VALIDATOR = 8;
/** Account 0 is reserved for the single-tx test; the load uses accounts 1.. */
const ACCOUNTS = 1 + N * SENDERS_PER_VALIDATOR;

let dir: string;
let topo: Topology;
let sup: ClusterSupervisor;
const watchers: (BlockWatcher | undefined)[] = [];
const unexpected: ExitReport[] = [];
let killed = -1;
let drained = false;
let failoverLoad: SteadyLoad | undefined;
let failoverKilledAt = 0;
let failoverRoundAtKill = 0;

const waitFor = <T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined | false>): Promise<T> => pollUntil(what, timeoutMs, probe);

/** Latest block of each listed validator once they all agree on height, hash and state root. */
async function agreedTip(nodes: number[], timeoutMs: number): Promise<BlockView> {
  let last = '';
  try {
    return await waitFor('validators to agree on the tip', timeoutMs, async () => {
      const tips = await Promise.all(nodes.map((i) => latestBlock(sup.url(i))));
      last = tips.map((t, k) => `v${nodes[k]}@${t?.height}:${t?.stateRoot.slice(0, 12)}`).join(' ');
      const t0 = tips[0];
      return t0 && tips.every((t) => t && t.height === t0.height && t.hash === t0.hash && t.stateRoot === t0.stateRoot) ? t0 : undefined;
    });
  } catch (e) {
    throw new Error(`${(e as Error).message}; last seen ${last}`);
  }
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hotledger-cluster-test-'));
  topo = await planTopology({ validators: N, dir, basePort: 0, chainId: CHAIN, accounts: ACCOUNTS, threads: 1, timeoutMs: TIMEOUT_MS, heartbeatMs: 100 });
  writeTopology(topo, { logLevel: 'info', devnetBalance: 1_000_000_000, extra: { pipeline: { batchTimeoutMs: 5 }, storage: { cacheSizeMb: 16, mapSizeMb: 1024 } } });
  sup = new ClusterSupervisor(topo, { graceMs: 5_000 });
  sup.on('exit', (r) => {
    if (!r.expected) unexpected.push(r);
  });
  await sup.start();
  await waitClusterReady(sup, 30_000);
  for (let i = 0; i < N; i++) watchers[i] = await BlockWatcher.open(sup.url(i));
}, 90_000);

afterAll(async () => {
  for (const w of watchers) w?.close();
  await sup?.stop();
  if (dir && process.env.HOTLEDGER_KEEP_CLUSTER_DIR !== '1') rmSync(dir, { recursive: true, force: true });
  else if (dir) process.stderr.write(`cluster dir kept: ${dir}\n`);
}, 30_000);

describe(`hotledger cluster: ${N} validator processes on loopback`, () => {
  it('commits a tx sent to v1 on every validator, with one state root', async () => {
    const sender = devnetKeyPair(CHAIN, 0);
    const tx = generateTransfers({ chainId: CHAIN, senders: [sender], recipients: [devnetKeyPair(CHAIN, 1).publicKey], count: 1 });
    const id = txId(tx, 0).toString('hex');
    const ans = await postTxs(sup.url(1), tx);
    expect(ans).toMatchObject({ status: 202, accepted: 1 });
    for (let i = 0; i < N; i++) {
      const st = await waitFor(`tx committed on v${i}`, 15_000, async () => {
        const s = await tryGetJson<TxStatusView>(`${sup.url(i)}/api/v11/transactions/${id}`);
        return s?.status === 'committed' ? s : undefined;
      });
      expect(st.status).toBe('committed');
    }
    const tip = await agreedTip([0, 1, 2, 3], 10_000);
    expect(tip.height).toBeGreaterThanOrEqual(1);
    const acct = await getJson<{ nonce: number }>(`${sup.url(3)}/api/v11/accounts/${Buffer.from(sender.publicKey).toString('hex')}`);
    expect(acct.nonce).toBe(1);
    const cs = await consensusStatus(sup.url(0));
    expect(cs.mode).toBe('hotstuff');
    expect(cs.highQc?.votes).toBeGreaterThanOrEqual(3);
  });

  it('survives kill -9 of the leader under load: a new leader commits, no acknowledged tx is lost, survivors agree', async () => {
    const load = new SteadyLoad(sup, CHAIN, 1, SENDERS_PER_VALIDATOR, 40, 100, 8_000);
    load.start();
    await new Promise((r) => setTimeout(r, 3_000));
    // The leader right now (round-robin per round, so it will lead again every N rounds).
    const status = await consensusStatus(sup.url(0));
    killed = topo.nodes.findIndex((n) => n.id === status.leader);
    expect(killed).toBeGreaterThanOrEqual(0);
    const survivors = [0, 1, 2, 3].filter((i) => i !== killed);
    // Acknowledged = committed on some validator (seen in its block stream) before the kill.
    const acknowledged = new Set<string>();
    for (const w of watchers) for (const id of w!.committed) acknowledged.add(id);
    const heightAtKill = Math.max(...survivors.map((i) => watchers[i]!.blocks.at(-1)?.height ?? 0));
    const viewChangesBefore = await Promise.all(survivors.map(async (i) => viewChangesOf(await consensusStatus(sup.url(i))) ?? 0));
    failoverRoundAtKill = status.round;
    const report = await sup.kill(killed, 'SIGKILL');
    const killedAt = Date.now();
    expect(report?.signal).toBe('SIGKILL');
    watchers[killed]!.close();
    watchers[killed] = undefined;

    // Height keeps growing on every survivor: the first block after the kill, then the largest gap.
    const firstAfter = await Promise.all(
      survivors.map((i) =>
        waitFor(`v${i} to commit after the kill`, 4 * TIMEOUT_MS, async () => {
          const b = watchers[i]!.blocks.find((x) => x.at >= killedAt && x.height > heightAtKill);
          return b ? b.at - killedAt : undefined;
        }),
      ),
    );
    await new Promise((r) => setTimeout(r, 5_000));
    load.stop();
    const until = Date.now();
    let maxGap = 0;
    for (const i of survivors) {
      const times = [killedAt, ...watchers[i]!.blocks.filter((b) => b.at >= killedAt && b.at <= until).map((b) => b.at)];
      for (let k = 1; k < times.length; k++) maxGap = Math.max(maxGap, times[k]! - times[k - 1]!);
    }
    const viewChangesAfter = await Promise.all(survivors.map(async (i) => viewChangesOf(await consensusStatus(sup.url(i))) ?? 0));
    const failover = {
      killed: `v${killed}`,
      firstBlockAfterKillMs: Math.max(...firstAfter),
      maxGapAfterKillMs: maxGap,
      viewChanges: viewChangesAfter.map((v, k) => v - viewChangesBefore[k]!),
    };
    process.stderr.write(`failover: ${JSON.stringify(failover)}; load accepted ${load.accepted}, rejected ${load.rejected}, errors ${load.errors.length}\n`);
    // The target is "commits resume within 2 x consensusTimeoutMs after the kill is NOTICED". A
    // survivor notices when its round timer expires: at most one timeoutMs after the kill. So from
    // the kill: <= 1 (notice) + 2 timeouts. Later rotations cost the same: a dead validator makes two
    // consecutive rounds time out (the round whose votes go to it, then its own, backed off to 2x).
    // 750 ms slack for loopback round trips and fsyncs on 2 cores.
    expect(failover.firstBlockAfterKillMs).toBeLessThanOrEqual(TIMEOUT_MS + 2 * TIMEOUT_MS + 750);
    // Liveness over the following rotations: measured 2.2-4.2 s on 2 cores (sometimes one more
    // round times out than the two a dead leader costs); never a stall beyond 5 timeouts.
    expect(failover.maxGapAfterKillMs).toBeLessThanOrEqual(5 * TIMEOUT_MS);

    // After the load stops, the survivors drain and agree on one tip.
    // After the load stops (and in-flight POSTs land), the survivors drain and agree on one tip.
    await new Promise((r) => setTimeout(r, 500));
    drained = await waitFor('survivor mempools to drain', 15_000, async () => {
      const s = await Promise.all(survivors.map((i) => stats(sup.url(i))));
      return s.every((x) => x.mempool.size === 0);
    }).catch(() => false);
    const tip = await agreedTip(survivors, 15_000);
    expect(tip.height).toBeGreaterThan(heightAtKill);
    expect(acknowledged.size).toBeGreaterThan(0);
    for (const i of survivors) {
      const missing = [...acknowledged].filter((id) => !watchers[i]!.committed.has(id));
      expect(missing.length, `acknowledged txs missing on v${i}`).toBe(0);
    }
    // Independent check through the REST API on a sample.
    const sample = [...acknowledged].filter((_, k) => k % Math.max(1, Math.floor(acknowledged.size / 50)) === 0);
    for (const i of survivors) {
      const sts = await Promise.all(sample.map((id) => tryGetJson<TxStatusView>(`${sup.url(i)}/api/v11/transactions/${id}`)));
      expect(sts.filter((s) => s?.status !== 'committed').length).toBe(0);
    }
    failoverLoad = load;
    failoverKilledAt = killedAt;
    expect(unexpected).toEqual([]);
  }, 60_000);

  it('every tx a survivor admitted during the failover commits (none stuck, none dropped on NONCE_GAP)', async () => {
    expect(failoverLoad).toBeDefined();
    const load = failoverLoad!;
    const survivors = [0, 1, 2, 3].filter((i) => i !== killed);
    const w = watchers[survivors[0]!]!;
    const fromSurvivors = load.admitted.filter((a) => a.validator !== killed);
    const missing = fromSurvivors.filter((a) => !w.committed.has(a.id));
    if (missing.length > 0 || !drained) {
      const detail = await Promise.all(
        missing.slice(0, 4).map(async (a) => ({
          id: a.id.slice(0, 12),
          via: `v${a.validator}`,
          status: await Promise.all(
            survivors.map(async (i) => {
              const t = await tryGetJson<TxStatusView>(`${sup.url(i)}/api/v11/transactions/${a.id}`);
              return `v${i}:${t?.status ?? 'unknown'}${t?.status === 'rejected' ? `/${t.code}` : ''}`;
            }),
          ),
        })),
      );
      const mem = await Promise.all(survivors.map(async (i) => `v${i}:${(await stats(sup.url(i))).mempool.size}`));
      const rej = w.blocks.filter((b) => b.rejected > 0).map((b) => ({ h: b.height, rejected: b.rejected, msAfterKill: b.at - failoverKilledAt }));
      process.stderr.write(
        `failover diagnosis: ${missing.length}/${fromSurvivors.length} survivor-admitted txs not committed on v${survivors[0]}; mempools ${mem.join(' ')}; ` +
          `blocks with execution rejections ${JSON.stringify(rej)}; examples ${JSON.stringify(detail)}\n`,
      );
    }
    expect(drained).toBe(true);
    expect(missing.length).toBe(0);
  });

  // This once stalled 1 run in 3 a few blocks short of the tip: the ledger thread acknowledged
  // back-to-back catch-up blocks out of order, so the node took an older height as its tip.
  it('a restarted validator catches up to the tip on its own data dir', async () => {
    expect(killed).toBeGreaterThanOrEqual(0);
    const survivors = [0, 1, 2, 3].filter((i) => i !== killed);
    const before = await agreedTip(survivors, 10_000);
    const roundNow = (await consensusStatus(sup.url(survivors[0]!))).round;
    const t0 = Date.now();
    await sup.restart(killed);
    const caught = await agreedTip([0, 1, 2, 3], 30_000).catch(async (e: Error) => {
      process.stderr.write(`restarted v${killed} stderr tail:\n${sup.stderrTail(killed, 3000)}\n`);
      throw e;
    });
    process.stderr.write(
      `catch-up: v${killed} reached height ${caught.height} (survivors were at ${before.height}) ${Date.now() - t0} ms after restart; it missed ${roundNow - failoverRoundAtKill} consensus rounds\n`,
    );
    expect(caught.height).toBeGreaterThanOrEqual(before.height);
    // And it keeps up with new blocks: one more tx through the restarted validator.
    const sender = devnetKeyPair(CHAIN, 0);
    const tx = generateTransfers({ chainId: CHAIN, senders: [sender], recipients: [devnetKeyPair(CHAIN, 2).publicKey], count: 1, startNonces: [2] });
    expect((await postTxs(sup.url(killed), tx)).accepted).toBe(1);
    const id = txId(tx, 0).toString('hex');
    for (let i = 0; i < N; i++) {
      await waitFor(`the new tx committed on v${i}`, 15_000, async () => (await tryGetJson<TxStatusView>(`${sup.url(i)}/api/v11/transactions/${id}`))?.status === 'committed');
    }
    const after = await agreedTip([0, 1, 2, 3], 20_000);
    expect(after.height).toBeGreaterThan(caught.height);
    expect(unexpected).toEqual([]);
  }, 60_000);
});
