/**
 * End-to-end check of a whole cluster on real processes (src/cluster supervisor): connectivity,
 * the API on every node, signed transfers through the business nodes with the client library,
 * the leader's process SIGKILLed under load, one block at a common height everywhere, and the
 * figures measured along the way (TPS, finality percentiles, memory per logical node).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { HotledgerClient } from '../client/client.js';
import { ClientError, TransactionRejectedError } from '../client/errors.js';
import { hexOf } from '../client/hex.js';
import { consensusStatus, getJson, tryGetJson } from '../cluster/http.js';
import { ClusterSupervisor } from '../cluster/supervisor.js';
import { type ClusterNodeSpec, planTopology, type Topology, type TopologyPreset, writeTopology } from '../cluster/topology.js';
import type { KeyPair } from '../crypto/keys.js';
import { readStatusKb } from '../faults/rss.js';
import type { BlockView, NodeInfo, NodeStats, TxStatusView } from '../node/node-api.js';
import { newLatencyHistogram } from '../node/stats.js';
import { devnetKeyPair } from '../workload/generate.js';
import {
  type Acknowledged,
  type BlockAtHeight,
  type CategoryResult,
  compareAtHeight,
  type E2eCategory,
  missingOn,
  processLoss,
  rolesOf,
  sampleAcknowledged,
  type TxSeen,
} from './checks.js';
import { checkContractDeployment } from './contract-check.js';

export interface E2eOptions {
  topology?: TopologyPreset;
  validators?: number;
  business?: number;
  slim?: number;
  perProcess?: number;
  /** Transfers of the transactions category. */
  txs: number;
  /** Random acknowledged transfers looked up on every node (plus the last of each sender). */
  sample: number;
  /** Funded devnet accounts sending, one transfer in flight each. */
  senders: number;
  /** Transfers sent while the leader's process is killed. */
  failoverTxs: number;
  chainId?: number;
  threads?: number;
  timeoutMs?: number;
  readyTimeoutMs?: number;
  /** Cluster directory; a fresh temporary one (removed afterwards unless keep) when absent. */
  dir?: string;
  keep?: boolean;
  logLevel?: string;
  log?: (line: string) => void;
}

export interface E2eReport {
  when: string;
  machine: { cpus: number; node: string; platform: string };
  topology: { preset: string | null; validators: number; business: number; slim: number; processes: number; dir: string };
  options: Omit<E2eOptions, 'log'>;
  pass: boolean;
  results: CategoryResult[];
  performance: { tps: number; finalityMs: { p50: number; p95: number; p99: number; max: number }; rssMbPerNode: number; rssMbTotal: number } | undefined;
  unexpectedExits: string[];
  seconds: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round1 = (x: number) => Math.round(x * 10) / 10;
const DURABLE_TIMEOUT_MS = 60_000;
const RECIPIENT_COUNT = 256;
let recipients: Uint8Array[] | undefined;
/** Accounts that receive the transfers: not funded, created by the first transfer to each. */
const RECIPIENTS = () => (recipients ??= Array.from({ length: RECIPIENT_COUNT }, (_, i) => devnetKeyPair(0, 1_000_000 + i).publicKey));

/** Runs `fn` over `items`, at most `width` at a time. */
async function pool<T>(items: readonly T[], width: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/** One category's run: its verdict, figure and evidence, timed; an exception is a failure. */
async function category(name: E2eCategory, log: (s: string) => void, fn: (r: CategoryResult) => Promise<void>): Promise<CategoryResult> {
  const r: CategoryResult = { category: name, pass: false, figure: '', seconds: 0, failures: [], details: {} };
  const t0 = performance.now();
  log(`== ${name}`);
  try {
    await fn(r);
    r.pass = r.failures.length === 0;
  } catch (e) {
    r.failures.push(`${(e as Error).message ?? String(e)}`);
    r.pass = false;
  }
  r.seconds = (performance.now() - t0) / 1000;
  if (r.figure === '') r.figure = r.failures[0]?.slice(0, 120) ?? '';
  log(`   ${r.pass ? 'PASS' : 'FAIL'} ${r.figure} (${r.seconds.toFixed(1)} s)${r.failures.length ? `\n   ${r.failures.slice(0, 20).join('\n   ')}` : ''}`);
  return r;
}

interface LoadOutcome {
  acks: (Acknowledged & { at: number })[];
  /** Error code → count, for transfers that did not end committed. */
  errors: Map<string, number>;
  firstError: string | undefined;
  wallMs: number;
}

/**
 * `count` transfers through `client`, one in flight per sender (so nonces never race across
 * ingress nodes); each timed from the call to the durable acknowledgement.
 */
async function sendTransfers(
  client: HotledgerClient,
  senders: readonly KeyPair[],
  count: number,
  record: ((ms: number) => void) | undefined,
  onAck?: (acked: number) => void,
): Promise<LoadOutcome> {
  const acks: LoadOutcome['acks'] = [];
  const errors = new Map<string, number>();
  let firstError: string | undefined;
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    senders.map(async (from, s) => {
      const sender = hexOf(from.publicKey);
      while (next < count) {
        const k = next++;
        const to = RECIPIENTS()[(k * 7 + s) % RECIPIENT_COUNT]!;
        const t = performance.now();
        try {
          const d = await client.transfer({ from, to, amount: 1 });
          const now = performance.now();
          record?.(now - t);
          acks.push({ id: d.id, height: d.height, sender, at: now });
          onAck?.(acks.length);
        } catch (e) {
          const code = e instanceof TransactionRejectedError ? e.rejectCode : e instanceof ClientError ? e.code : 'ERROR';
          errors.set(code, (errors.get(code) ?? 0) + 1);
          firstError ??= `${code}: ${(e as Error).message}`;
        }
      }
    }),
  );
  return { acks, errors, firstError, wallMs: performance.now() - t0 };
}

/** Looks every ack up on every node (retrying while a node lags), returns what is still missing. */
async function findEverywhere(acks: readonly Acknowledged[], nodes: readonly ClusterNodeSpec[], url: (n: ClusterNodeSpec) => string, timeoutMs: number): Promise<string[]> {
  const pending = new Map<string, Acknowledged>(acks.map((a) => [a.id, a]));
  const until = Date.now() + timeoutMs;
  let missing: string[] = [];
  for (;;) {
    missing = [];
    const checks = [...pending.values()].flatMap((a) => nodes.map((n) => ({ a, n })));
    const seen = new Map<string, Map<string, TxSeen>>();
    await pool(checks, 48, async ({ a, n }) => {
      const v = await tryGetJson<TxStatusView>(`${url(n)}/api/v11/transactions/${a.id}`, 5_000);
      let m = seen.get(a.id);
      if (!m) seen.set(a.id, (m = new Map()));
      m.set(n.id, v);
    });
    for (const a of pending.values()) {
      const miss = missingOn(a, seen.get(a.id)!);
      if (miss.length === 0) pending.delete(a.id);
      else missing.push(`${a.id.slice(0, 16)} (acknowledged at ${a.height}) ${miss.slice(0, 5).join('; ')}${miss.length > 5 ? `; … ${miss.length} nodes` : ''}`);
    }
    if (pending.size === 0 || Date.now() > until) return missing;
    await sleep(500);
  }
}

function rssKb(sup: ClusterSupervisor): { totalKb: number; perProcess: Record<string, number> } {
  const perProcess: Record<string, number> = {};
  let totalKb = 0;
  sup.topology.processes.forEach((p, i) => {
    const pid = sup.processPid(i);
    const kb = pid === undefined ? undefined : readStatusKb(pid, 'VmRSS');
    if (kb !== undefined) {
      perProcess[p.id] = Math.round(kb / 1024);
      totalKb += kb;
    }
  });
  return { totalKb, perProcess };
}

export async function runE2e(o: E2eOptions): Promise<E2eReport> {
  const log = o.log ?? ((s: string) => process.stderr.write(`${s}\n`));
  const t00 = performance.now();
  const dir = o.dir ?? mkdtempSync(join(tmpdir(), 'hotledger-e2e-'));
  const chainId = o.chainId ?? 4242;
  const topo: Topology = await planTopology({
    ...(o.topology ? { topology: o.topology } : { validators: o.validators ?? 4, business: o.business ?? 0, slim: o.slim ?? 0, perProcess: o.perProcess ?? 1 }),
    dir,
    basePort: 0,
    chainId,
    accounts: Math.max(64, o.senders),
    threads: o.threads ?? 1,
    timeoutMs: o.timeoutMs ?? 1_000,
  });
  writeTopology(topo, { logLevel: o.logLevel ?? 'warn' });
  const validators = rolesOf(topo, 'validator');
  const business = rolesOf(topo, 'business');
  const slim = rolesOf(topo, 'slim');
  const ingress = business.length > 0 ? business : validators;
  log(
    `e2e: ${validators.length} validators, ${business.length} business, ${slim.length} slim in ${topo.processes.length} processes (${dir}); transfers through ${business.length > 0 ? 'business nodes' : 'validators (no business node)'}`,
  );

  const sup = new ClusterSupervisor(topo, { graceMs: 10_000, startTimeoutMs: o.readyTimeoutMs ?? 120_000 });
  const unexpectedExits: string[] = [];
  sup.on('exit', (r) => {
    if (!r.expected) unexpectedExits.push(`${r.id} (${r.nodes.map((i) => topo.nodes[i]!.id).join(',')}) exited ${r.signal ?? `code ${r.code}`}: ${r.stderrTail.slice(-1500)}`);
  });
  const url = (n: ClusterNodeSpec) => sup.url(n.index);
  const live = () => topo.nodes.filter((n) => sup.isRunning(n.index));
  const results: CategoryResult[] = [];
  let perf: E2eReport['performance'];
  const hist = newLatencyHistogram();
  const client = new HotledgerClient(
    ingress.map((n) => `http://${n.host}:${n.apiPort}`),
    { chainId, durableTimeoutMs: DURABLE_TIMEOUT_MS, requestTimeoutMs: 15_000 },
  );
  const senders = Array.from({ length: o.senders }, (_, i) => devnetKeyPair(chainId, i));
  const allAcks: Acknowledged[] = [];
  let txFigures: { tps: number; rss: ReturnType<typeof rssKb> } | undefined;

  try {
    // 1. connectivity
    results.push(
      await category('connectivity', log, async (r) => {
        const t0 = performance.now();
        await sup.start();
        const readyAt = new Map<string, number>();
        const until = Date.now() + (o.readyTimeoutMs ?? 120_000);
        let last = new Map<string, string>();
        while (readyAt.size < topo.nodes.length && Date.now() < until) {
          last = new Map();
          await pool(
            topo.nodes.filter((n) => !readyAt.has(n.id)),
            32,
            async (n) => {
              try {
                const res = await fetch(`${url(n)}/q/health/ready`, { signal: AbortSignal.timeout(3_000) });
                const body = (await res.json().catch(() => ({}))) as { status?: string };
                if (res.ok && body.status === 'UP') readyAt.set(n.id, performance.now() - t0);
                else last.set(n.id, `HTTP ${res.status} ${JSON.stringify(body).slice(0, 200)}`);
              } catch (e) {
                last.set(n.id, (e as Error).message);
              }
            },
          );
          if (readyAt.size < topo.nodes.length) await sleep(200);
        }
        const allReadyS = Math.max(0, ...readyAt.values()) / 1000;
        r.details = { nodes: topo.nodes.length, ready: readyAt.size, allReadySeconds: round1(allReadyS), processes: topo.processes.length };
        r.figure = `${readyAt.size}/${topo.nodes.length} nodes UP (${topo.processes.length} processes), all ready ${allReadyS.toFixed(1)} s after start`;
        for (const [id, why] of last) r.failures.push(`${id} not ready: ${why}`);
      }),
    );

    // 2. api
    results.push(
      await category('api', log, async (r) => {
        let answered = 0;
        await pool(topo.nodes, 16, async (n) => {
          try {
            const [info] = await Promise.all([getJson<NodeInfo>(`${url(n)}/api/v11/info`), getJson<NodeStats>(`${url(n)}/api/v11/stats`), consensusStatus(url(n))]);
            if (info.role !== n.role) r.failures.push(`${n.id}: info.role ${info.role}, topology says ${n.role}`);
            else if (info.nodeId !== n.id) r.failures.push(`${n.id}: info.nodeId ${info.nodeId}`);
            else if (info.chainId !== chainId) r.failures.push(`${n.id}: info.chainId ${info.chainId}, expected ${chainId}`);
            else answered++;
          } catch (e) {
            r.failures.push(`${n.id}: ${(e as Error).message}`);
          }
        });
        r.details = { nodes: topo.nodes.length, ok: answered };
        r.figure = `${answered}/${topo.nodes.length} nodes answer info, stats, consensus/status; role matches`;
      }),
    );

    // 3. transactions (and the performance figures)
    results.push(
      await category('transactions', log, async (r) => {
        let reported = 0;
        const out = await sendTransfers(
          client,
          senders,
          o.txs,
          (ms) => hist.recordValue(Math.max(1, Math.round(ms * 1000))),
          (n) => {
            if (n - reported >= Math.max(1000, o.txs / 10)) {
              reported = n;
              log(`   ${n}/${o.txs} durable`);
            }
          },
        );
        allAcks.push(...out.acks);
        const tps = Math.round(out.acks.length / (out.wallMs / 1000));
        txFigures = { tps, rss: rssKb(sup) };
        if (out.acks.length !== o.txs)
          r.failures.push(`${o.txs - out.acks.length} of ${o.txs} transfers not committed: ${[...out.errors].map(([c, k]) => `${c} ×${k}`).join(', ')}; first: ${out.firstError}`);
        const sample = sampleAcknowledged(out.acks, o.sample);
        const missing = await findEverywhere(sample, live(), url, 60_000);
        if (missing.length > 0) r.failures.push(`${missing.length} sampled transfers not committed on every node: ${missing.slice(0, 10).join(' | ')}`);
        let slimVerdict = 'no slim node';
        const s0 = slim[0];
        if (s0) {
          const tx = await client.sign({ from: senders[0]!, to: senders[1 % senders.length]!.publicKey, amount: 1, nonce: 1_000_000 });
          const res = await fetch(`${url(s0)}/api/v11/transactions`, {
            method: 'POST',
            body: tx.bytes,
            headers: { 'content-type': 'application/octet-stream' },
            signal: AbortSignal.timeout(10_000),
          });
          const body = (await res.json().catch(() => ({}))) as { error?: { code?: string } };
          const code = body.error?.code;
          slimVerdict = `${s0.id} refuses: ${res.status} ${code}`;
          if (res.status !== 403 || code !== 'ROLE_READ_ONLY')
            r.failures.push(`a submission to slim node ${s0.id} answered ${res.status} ${JSON.stringify(body).slice(0, 200)}, expected 403 ROLE_READ_ONLY`);
        }
        // Contract deployment validation, after the transfers (the sender's nonces continue in the client).
        const contract = await checkContractDeployment(
          client,
          senders[0]!,
          senders[1 % senders.length]!,
          live().map((n) => ({ id: n.id, url: url(n) })),
          60_000,
        );
        r.failures.push(...contract.failures);
        r.details = {
          contract: contract.details,
          submitted: o.txs,
          committed: out.acks.length,
          errors: Object.fromEntries(out.errors),
          ingress: ingress.map((n) => n.id),
          senders: senders.length,
          wallSeconds: round1(out.wallMs / 1000),
          sampled: sample.length,
          sampledOnNodes: live().length,
          sampleMissing: missing.length,
          slim: slimVerdict,
        };
        r.figure = `${out.acks.length}/${o.txs} committed via ${ingress.length} ${business.length > 0 ? 'business' : 'validator'} nodes; ${sample.length} sampled found on all ${live().length} nodes; ${slimVerdict}; ${contract.figure}`;
      }),
    );

    // 4. failover
    results.push(
      await category('failover', log, async (r) => {
        const probe = validators.find((v) => sup.isRunning(v.index))!;
        const leaderId = (await consensusStatus(url(probe))).leader;
        const leader = topo.nodes.find((n) => n.id === leaderId);
        if (!leader) throw new Error(`consensus/status of ${probe.id} names leader ${JSON.stringify(leaderId)}, which is no node of the topology`);
        const loss = processLoss(topo, leader.process);
        r.details = { leader: leaderId, ...loss };
        const lossText = `${loss.process} (${loss.nodes.join(',')}): ${loss.validatorsLost}/${loss.validators} validators, f=${loss.f}, quorum ${loss.quorum}, then tolerates ${Math.max(0, loss.spare)} more`;
        if (!loss.tolerated) {
          r.figure = `leader ${leaderId}'s process ${lossText}: not tolerated`;
          r.failures.push(`killing ${lossText} leaves ${loss.validators - loss.validatorsLost} validators, below the quorum: this topology cannot survive it`);
          return;
        }
        const survivors = validators.filter((v) => !loss.nodes.includes(v.id));
        const heightOf = async (n: ClusterNodeSpec) => (await tryGetJson<BlockView>(`${url(n)}/api/v11/blocks/latest`, 2_000))?.height ?? 0;
        let killedAt = 0;
        let heightAtKill = 0;
        let kill: Promise<void> | undefined;
        const killAfter = Math.max(1, Math.floor(o.failoverTxs / 4));
        const doKill = async () => {
          heightAtKill = Math.max(...(await Promise.all(survivors.map(heightOf))));
          log(`   SIGKILL ${loss.process} (${loss.nodes.join(',')}), leader ${leaderId}, at height ${heightAtKill}`);
          killedAt = performance.now();
          await sup.kill(leader.index, 'SIGKILL');
        };
        const load = sendTransfers(client, senders, o.failoverTxs, undefined, (n) => {
          if (n >= killAfter && !kill) kill = doKill();
        });
        // Also kill on time, should the load itself stall before a quarter of it is acknowledged.
        const timer = setTimeout(() => (kill ??= doKill()), 20_000);
        // Commits resume: a survivor's height passes the height at the kill.
        let resumedS: number | undefined;
        const watchResume = (async () => {
          while (!kill) await sleep(50);
          await kill;
          const until = performance.now() + 60_000;
          while (performance.now() < until) {
            const hs = await Promise.all(survivors.map(heightOf));
            if (Math.max(...hs) > heightAtKill + 1) {
              resumedS = (performance.now() - killedAt) / 1000;
              return;
            }
            await sleep(100);
          }
        })();
        const out = await load;
        clearTimeout(timer);
        kill ??= doKill();
        await kill;
        await watchResume;
        allAcks.push(...out.acks);
        const after = out.acks.filter((a) => a.at > killedAt).length;
        if (resumedS === undefined) r.failures.push(`no survivor's height passed ${heightAtKill + 1} within 60 s of the kill`);
        if (after === 0) r.failures.push(`no transfer was acknowledged after the kill (${[...out.errors].map(([c, k]) => `${c} ×${k}`).join(', ')}; first: ${out.firstError})`);
        // Every acknowledged transfer of the run, on one surviving validator and one business node;
        // the failover phase's own sample on every live node.
        const holders = [survivors[0]!, ...business.filter((b) => sup.isRunning(b.index)).slice(0, 1)];
        const lost = await findEverywhere(allAcks, holders, url, 60_000);
        const lostSample = await findEverywhere(sampleAcknowledged(out.acks, o.sample), live(), url, 60_000);
        if (lost.length > 0)
          r.failures.push(`${lost.length} acknowledged transfers not found committed on ${holders.map((h) => h.id).join(', ')}: ${lost.slice(0, 10).join(' | ')}`);
        if (lostSample.length > 0) r.failures.push(`${lostSample.length} sampled failover transfers not committed on every live node: ${lostSample.slice(0, 10).join(' | ')}`);
        r.details = {
          ...r.details,
          heightAtKill,
          resumedSeconds: resumedS === undefined ? null : round1(resumedS),
          sent: o.failoverTxs,
          acknowledged: out.acks.length,
          acknowledgedAfterKill: after,
          notAcknowledged: Object.fromEntries(out.errors),
          checkedAcknowledged: allAcks.length,
          checkedOn: holders.map((h) => h.id),
          lost: lost.length,
        };
        const unacked = o.failoverTxs - out.acks.length;
        r.figure = `killed ${lossText}; commits resumed in ${resumedS === undefined ? '-' : resumedS.toFixed(1)} s; ${out.acks.length}/${o.failoverTxs} acked (${after} after kill${unacked ? `, ${unacked} not acked` : ''}); ${lost.length} of ${allAcks.length} acked lost`;
      }),
    );

    // 5. consistency
    results.push(
      await category('consistency', log, async (r) => {
        const nodes = live();
        const tips = await Promise.all(nodes.map(async (n) => (await tryGetJson<BlockView>(`${url(n)}/api/v11/blocks/latest`, 5_000))?.height ?? 0));
        const height = Math.max(...tips);
        const until = Date.now() + 60_000;
        let blocks: BlockAtHeight[] = [];
        let behind: string[] = [];
        do {
          behind = [];
          blocks = [];
          await pool(nodes, 24, async (n) => {
            const b = await tryGetJson<BlockView>(`${url(n)}/api/v11/blocks/${height}`, 5_000);
            if (b) blocks.push({ node: n.id, height: b.height, hash: b.hash, stateRoot: b.stateRoot });
            else behind.push(n.id);
          });
          if (behind.length === 0) break;
          await sleep(250);
        } while (Date.now() < until);
        if (behind.length > 0) r.failures.push(`${behind.length} live nodes never reached height ${height} within 60 s: ${behind.join(', ')}`);
        const agreement = compareAtHeight(height, blocks);
        if (!agreement.agree) r.failures.push(`disagreement at height ${height}: ${agreement.mismatches.slice(0, 10).join(' | ')}`);
        r.details = { ...agreement };
        r.figure = `height ${height}: ${blocks.length - agreement.mismatches.length}/${nodes.length} live nodes hold hash ${agreement.hash.slice(0, 12)}…, stateRoot ${agreement.stateRoot.slice(0, 12)}…`;
      }),
    );

    // 6. performance: measurements taken during the transactions category
    results.push(
      await category('performance', log, async (r) => {
        if (!txFigures || hist.totalCount === 0) throw new Error('no durable acknowledgement was measured in the transactions category');
        const ms = (v: number) => Math.round(v / 10) / 100;
        const q = (p: number) => ms(Math.min(hist.getValueAtPercentile(p), hist.maxValue));
        const finalityMs = { p50: q(50), p95: q(95), p99: q(99), max: ms(hist.maxValue) };
        const rssMbTotal = Math.round(txFigures.rss.totalKb / 1024);
        const rssMbPerNode = round1(txFigures.rss.totalKb / 1024 / topo.nodes.length);
        perf = { tps: txFigures.tps, finalityMs, rssMbPerNode, rssMbTotal };
        if (!(txFigures.tps > 0 && rssMbPerNode > 0)) r.failures.push(`missing figures: tps ${txFigures.tps}, RSS per node ${rssMbPerNode} MB`);
        r.details = { ...perf, finalityCount: hist.totalCount, rssMbPerProcess: txFigures.rss.perProcess, concurrency: senders.length };
        r.figure = `${txFigures.tps} TPS; finality p50 ${finalityMs.p50} / p95 ${finalityMs.p95} / p99 ${finalityMs.p99} ms; RSS ${rssMbPerNode} MB/node (${rssMbTotal} MB)`;
      }),
    );
  } finally {
    client.close();
    await sup.stop();
    if (!o.dir && !o.keep) rmSync(dir, { recursive: true, force: true });
  }
  const { log: _log, ...options } = o;
  return {
    when: new Date().toISOString(),
    machine: { cpus: availableParallelism(), node: process.version, platform: `${process.platform}-${process.arch}` },
    topology: { preset: topo.preset ?? null, validators: validators.length, business: business.length, slim: slim.length, processes: topo.processes.length, dir },
    options,
    pass: results.every((r) => r.pass),
    results,
    performance: perf,
    unexpectedExits,
    seconds: round1((performance.now() - t00) / 1000),
  };
}
