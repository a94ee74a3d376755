/**
 * HTTP benchmark: a bare uWS hello-world, GET /api/v11/stats and binary batch submission, in one run,
 * against a node started as a child process (or an existing one with --url). Loopback only.
 *
 *   npm run bench:http -- [--duration S] [--connections C] [--batch-size N] [--batches N] [--json FILE] [--url U]
 *                         [--client-rounds R] [--client-batches N] [--client-connections C]
 *
 * The client arm: more of the same pre-signed batches, submitted through `HotledgerClient.submit()`
 * and as raw `fetch` POSTs, alternating arms round by round (ABBA) against the same node, so drift
 * on a noisy machine falls on both, each segment started on a drained mempool; prints the client's
 * cost against raw requests (admission rate, accepted tx/s).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, availableParallelism } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { compiledPath } from '../src/runtime/module-path.js';
import { devnetKeyPair, generateTransfers } from '../src/workload/generate.js';
import { TX_SIZE } from '../src/tx/layout.js';
import { measureVerifyCeiling } from './ceiling.js';
import { signedRun } from './engine-runs.js';
import type { NodeInfo, NodeStats } from '../src/node/node-api.js';
import { intArg } from './args.js';
import { HotledgerClient, transactionId, type Submittable } from '../src/client/index.js';

interface Row {
  name: string;
  requests: number;
  reqPerSec: number;
  latencyMs: { p50: number; p97_5: number; p99: number };
  non2xx: number;
  errors: number;
}

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    'batch-size': { type: 'string', default: '1000' },
    batches: { type: 'string', default: '200' },
    senders: { type: 'string', default: '64' },
    'client-rounds': { type: 'string', default: '10' },
    'client-batches': { type: 'string', default: '10' },
    'client-connections': { type: 'string', default: '4' },
    json: { type: 'string' },
    url: { type: 'string' },
  },
  allowPositionals: false,
});

const duration = intArg(args, 'duration', 1, 600);
const connections = intArg(args, 'connections', 1, 1000);
const batchSize = intArg(args, 'batch-size', 1, 100_000);
const batchCount = intArg(args, 'batches', 1, 100_000);
const senderCount = intArg(args, 'senders', 1, 10_000);
const clientRounds = intArg(args, 'client-rounds', 0, 1000);
const clientBatches = intArg(args, 'client-batches', 1, 10_000);
const clientConnections = intArg(args, 'client-connections', 1, 256);

/** Starts a child and resolves with the first stdout match of `re`. */
const childErrors = new Map<ChildProcess, () => string>();

function startChild(args: string[], re: RegExp, env: NodeJS.ProcessEnv = process.env): Promise<{ child: ChildProcess; match: RegExpExecArray }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d) => (err = (err + d).slice(-8000)));
  childErrors.set(child, () => err);
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${args.join(' ')} did not start within 60 s: ${err.slice(-2000)}`)), 60_000);
    child.stdout!.on('data', (d) => {
      out += d;
      const m = re.exec(out);
      if (m) {
        clearTimeout(t);
        resolve({ child, match: m });
      }
    });
    child.once('exit', (c) => {
      clearTimeout(t);
      reject(new Error(`${args.join(' ')} exited with ${c}: ${err.slice(-2000)}`));
    });
  });
}

function stop(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(t);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

function row(name: string, r: autocannon.Result, durationSec?: number): Row {
  const reqPerSec = durationSec ? r.requests.total / durationSec : r.requests.average;
  return {
    name,
    requests: r.requests.total,
    reqPerSec: Math.round(reqPerSec),
    latencyMs: { p50: r.latency.p50, p97_5: r.latency.p97_5, p99: r.latency.p99 },
    non2xx: r.non2xx,
    errors: r.errors + r.timeouts,
  };
}

/** GET with one retry: a pooled keep-alive socket may have been closed by the server's idle timeout. */
async function get(url: string): Promise<Response> {
  try {
    return await fetch(url);
  } catch {
    return fetch(url);
  }
}

async function getJson<T>(url: string): Promise<T> {
  const r = await get(url);
  if (!r.ok) throw new Error(`GET ${url}: HTTP ${r.status}`);
  return (await r.json()) as T;
}

async function main(): Promise<void> {
  let nodeChild: ChildProcess | undefined;
  let helloChild: ChildProcess | undefined;
  let dataDir: string | undefined;
  try {
    let base = args.url?.replace(/\/+$/, '');
    if (!base) {
      dataDir = mkdtempSync(join(tmpdir(), 'hotledger-bench-http-'));
      const cfgFile = join(dataDir, 'bench-http.json');
      // The GET phases measure the API's own ceiling (~60 K req/s from one address), far above the
      // default per-client request rate (api.rateLimitPerSec 1000): lift it for this node only.
      // 16 connections of 100 K-tx batches (--batch-size 100000) hold 16 x 16.8 MB of bodies at once.
      const api = { rateLimitPerSec: 10_000_000, rateLimitBurst: 10_000_000, maxBufferedBodyBytes: 1024 * 1024 * 1024 };
      writeFileSync(cfgFile, JSON.stringify({ chain: { genesis: { devnetAccounts: senderCount } }, api, log: { level: 'warn' } }));
      const cli = compiledPath('../src/cli/main.ts', import.meta.url);
      const started = await startChild(
        [cli, 'start', '--profile', 'bench', '--config', cfgFile, '--port', '0', '--host', '127.0.0.1', '--data-dir', join(dataDir, 'node')],
        /API\s+(http:\/\/\S+?)\/api\/v11/,
      );
      nodeChild = started.child;
      base = started.match[1]!;
    }
    const hello = await startChild([compiledPath('./uws-hello.ts', import.meta.url), '0'], /\{"port":(\d+)\}/);
    helloChild = hello.child;
    const helloUrl = `http://127.0.0.1:${hello.match[1]}`;
    const info = await getJson<NodeInfo>(`${base}/api/v11/info`);
    process.stderr.write(
      `node ${base} (chain ${info.chainId}, ${info.config.threads} threads), hello-world ${helloUrl}; ${duration} s per GET phase, ${connections} connections\n`,
    );

    const rows: Row[] = [];
    const hw = await autocannon({ url: `${helloUrl}/`, connections, duration });
    rows.push(row('uws hello-world GET /', hw));
    const st = await autocannon({ url: `${base}/api/v11/stats`, connections, duration });
    rows.push(row('GET /api/v11/stats', st));

    // Pre-signed, distinct batches: senders round-robin with consecutive nonces, each body sent once.
    // The client arm's batches follow the main ones (same senders, next nonces), one set per arm and round.
    const armBatches = clientRounds > 0 ? clientRounds * 2 * clientBatches + 2 : 0; // + one warm-up batch per arm
    process.stderr.write(`signing ${batchCount} + ${armBatches} (client arm) batches of ${batchSize} transfers (libsodium)...\n`);
    const senders = Array.from({ length: senderCount }, (_, i) => devnetKeyPair(info.chainId, i));
    const startNonces: number[] = [];
    for (const s of senders) {
      const r = await get(`${base}/api/v11/accounts/${Buffer.from(s.publicKey).toString('hex')}`);
      startNonces.push(r.ok ? ((await r.json()) as { nonce: number }).nonce + 1 : 1);
    }
    const recipients = Array.from({ length: 256 }, (_, i) => devnetKeyPair(info.chainId, 1_000_000 + i).publicKey);
    const signed = generateTransfers({ chainId: info.chainId, senders, recipients, count: (batchCount + armBatches) * batchSize, startNonces });
    const all = signed.subarray(0, batchCount * batchSize * TX_SIZE);
    const armBodies = Array.from({ length: armBatches }, (_, i) => signed.subarray((batchCount + i) * batchSize * TX_SIZE, (batchCount + i + 1) * batchSize * TX_SIZE));
    const bodies = Array.from({ length: batchCount }, (_, i) => all.subarray(i * batchSize * TX_SIZE, (i + 1) * batchSize * TX_SIZE));
    const threads = info.config.threads;
    const ceiling = Math.round(await measureVerifyCeiling(all, Math.min(all.length / TX_SIZE, 50_000 * threads), threads));
    // The engine figure the API is compared with: the same transactions through an in-process
    // node with the same genesis and thread count (no HTTP), measured in this run.
    process.stderr.write('engine run (in-process, same transactions)...\n');
    // Only meaningful against a fresh node (--url may point at one whose nonces have moved on).
    const fresh = startNonces.every((n) => n === 1);
    const engine = fresh
      ? await signedRun({ chainId: info.chainId, accounts: senders, txs: all, count: all.length / TX_SIZE, cachePath: '', cached: true }, threads, 0)
      : { tps: Number.NaN };
    const before = await getJson<NodeStats>(`${base}/api/v11/stats`);
    let next = 0;
    let accepted = 0;
    let rejected = 0;
    const batchConnections = Math.min(connections, Math.max(1, Math.ceil(batchCount / 4)), 16);
    const t0 = performance.now();
    const bt = await autocannon({
      url: base,
      connections: batchConnections,
      amount: batchCount,
      timeout: 60,
      requests: [
        {
          method: 'POST',
          path: '/api/v11/transactions?results=none',
          headers: { 'content-type': 'application/octet-stream' },
          setupRequest: (req) => ({ ...req, body: bodies[next++ % bodies.length] as unknown as string }),
          onResponse: (status, body) => {
            if (status !== 202) return;
            const j = JSON.parse(body) as { accepted: number; rejected: number };
            accepted += j.accepted;
            rejected += j.rejected;
          },
        },
      ],
    });
    const batchSec = (performance.now() - t0) / 1000;
    rows.push(row(`POST ${batchSize}-tx binary batches`, bt, batchSec));
    // Give the pipeline a moment, then read what was committed in the meantime.
    const drainUntil = Date.now() + 30_000;
    let after = await getJson<NodeStats>(`${base}/api/v11/stats`);
    while (after.committedTxs + after.rejectedTxs - before.committedTxs - before.rejectedTxs < accepted && Date.now() < drainUntil) {
      await new Promise((r) => setTimeout(r, 20));
      after = await getJson<NodeStats>(`${base}/api/v11/stats`);
    }
    const commitSec = (performance.now() - t0) / 1000;

    const committedTps = (after.committedTxs - before.committedTxs) / commitSec;
    const clientArm = clientRounds > 0 ? await runClientArm(base, info.chainId, armBodies) : undefined;
    const ratio = rows[1]!.reqPerSec / Math.max(1, rows[0]!.reqPerSec);
    const result = {
      when: new Date().toISOString(),
      node: base,
      machine: { cpus: availableParallelism(), node: process.version },
      durationSec: duration,
      connections,
      rows,
      statsVsHelloWorld: Number(ratio.toFixed(3)),
      batch: {
        batchSize,
        batches: batchCount,
        connections: batchConnections,
        seconds: Number(batchSec.toFixed(3)),
        acceptedTxs: accepted,
        rejectedTxs: rejected,
        acceptedTxPerSec: Math.round(accepted / batchSec),
        committedTxs: after.committedTxs - before.committedTxs,
        committedTxPerSecIncludingDrain: Math.round(committedTps),
        nodeThreads: threads,
        verifyCeilingTps: ceiling,
        engineTps: Math.round(engine.tps),
        apiVsEngine: 0,
      },
      clientArm,
    };
    result.batch.apiVsEngine = Number((committedTps / engine.tps).toFixed(3));

    const pad = (s: string | number, n: number) => String(s).padStart(n);
    const lines = [
      `${'target'.padEnd(34)}${pad('req/s', 10)}${pad('p50 ms', 9)}${pad('p97.5 ms', 10)}${pad('p99 ms', 9)}${pad('non-2xx', 9)}${pad('errors', 8)}`,
      ...rows.map(
        (r) => `${r.name.padEnd(34)}${pad(r.reqPerSec, 10)}${pad(r.latencyMs.p50, 9)}${pad(r.latencyMs.p97_5, 10)}${pad(r.latencyMs.p99, 9)}${pad(r.non2xx, 9)}${pad(r.errors, 8)}`,
      ),
      '',
      `GET /api/v11/stats vs uWS hello-world: ${(ratio * 100).toFixed(1)} %`,
      `batch submission: ${accepted} tx accepted (${rejected} rejected) in ${batchSec.toFixed(2)} s = ${result.batch.acceptedTxPerSec} tx/s accepted`,
      `committed through the API: ${result.batch.committedTxs} tx at ${result.batch.committedTxPerSecIncludingDrain} tx/s (submission start to last commit)`,
      `engine, same txs, in-process: ${result.batch.engineTps} tx/s -> API / engine = ${(result.batch.apiVsEngine * 100).toFixed(1)} %`,
      `verify ceiling (libsodium, ${threads} threads, same run): ${ceiling} tx/s -> API = ${((committedTps / ceiling) * 100).toFixed(1)} % of ceiling`,
    ];
    if (clientArm) {
      lines.push(
        `client arm: ${clientArm.rounds} rounds x ${clientArm.batchesPerArmPerRound} batches of ${batchSize} tx per arm, ABBA order, ${clientArm.inFlight} in flight:`,
        `  raw fetch POST:           ${clientArm.raw.txPerSec} tx/s (${clientArm.raw.acceptedTxs} accepted in ${clientArm.raw.seconds} s, ${clientArm.raw.failedRequests} failed requests)`,
        `  HotledgerClient.submit(): ${clientArm.client.txPerSec} tx/s (${clientArm.client.acceptedTxs} accepted in ${clientArm.client.seconds} s, ${clientArm.client.failedRequests} failed requests)`,
        `  client cost vs raw: ${clientArm.clientCostPct.toFixed(1)} % overall, median of rounds ${clientArm.medianRoundCostPct.toFixed(1)} % (per round: ${clientArm.roundCostPct.map((c) => c.toFixed(1)).join(', ')})`,
      );
    }
    process.stdout.write(`${lines.join('\n')}\n`);
    if (args.json) {
      writeFileSync(args.json, `${JSON.stringify(result, null, 2)}\n`);
      process.stdout.write(`wrote ${args.json}\n`);
    }
  } catch (e) {
    const cause = (e as { cause?: { message?: string } }).cause?.message;
    if (nodeChild) {
      const state = nodeChild.exitCode !== null ? `node exited with ${nodeChild.exitCode}` : 'node still running';
      process.stderr.write(`${state}; its stderr ends with:\n${childErrors.get(nodeChild)?.().slice(-3000) ?? ''}\n`);
    }
    throw cause ? new Error(`${(e as Error).message}: ${cause}`) : e;
  } finally {
    await Promise.all([stop(helloChild), stop(nodeChild)]);
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  }
}

interface ArmTotals {
  seconds: number;
  acceptedTxs: number;
  failedRequests: number;
  txPerSec: number;
}

/**
 * Raw `fetch` POSTs vs `HotledgerClient.submit()` of distinct batches, `clientConnections` in flight.
 * Both post to the same path with the same default results mode, so the node does the same work;
 * the difference is the client: building the body from signed transactions, its request policy and
 * its per-transaction answer. Ids are computed before timing, as a client holds them from signing.
 */
async function runClientArm(base: string, chainId: number, bodies: Buffer[]) {
  const client = new HotledgerClient(base, { chainId, requestTimeoutMs: 60_000 });
  const lists: Submittable[][] = bodies.map((b) =>
    Array.from({ length: b.length / TX_SIZE }, (_, i) => {
      const bytes = b.subarray(i * TX_SIZE, (i + 1) * TX_SIZE);
      return { bytes, id: transactionId(bytes) };
    }),
  );
  const submitRaw = async (i: number): Promise<number> => {
    const r = await fetch(`${base}/api/v11/transactions`, { method: 'POST', body: bodies[i], headers: { 'content-type': 'application/octet-stream' } });
    const j = (await r.json()) as { accepted?: number };
    if (r.status !== 202) throw new Error(`HTTP ${r.status}`);
    return j.accepted ?? 0;
  };
  const submitClient = async (i: number): Promise<number> => (await client.submit(lists[i]!)).accepted;
  const totals = { raw: { seconds: 0, acceptedTxs: 0, failedRequests: 0 }, client: { seconds: 0, acceptedTxs: 0, failedRequests: 0 } };
  const roundCostPct: number[] = [];
  let next = 0;
  const segment = async (arm: 'raw' | 'client'): Promise<number> => {
    // Each segment starts on an idle node: otherwise the second arm of a round pays for committing the first one's transactions.
    for (const until = Date.now() + 30_000; Date.now() < until; await new Promise((r) => setTimeout(r, 20))) {
      if ((await getJson<NodeStats>(`${base}/api/v11/stats`)).mempool.size === 0) break;
    }
    const submit = arm === 'raw' ? submitRaw : submitClient;
    const ids = Array.from({ length: clientBatches }, () => next++);
    let accepted = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: Math.min(clientConnections, ids.length) }, async () => {
        for (let i = ids.shift(); i !== undefined; i = ids.shift()) {
          try {
            // Not `accepted += await ...`: that reads `accepted` before the await and loses the other workers' counts.
            const n = await submit(i);
            accepted += n;
          } catch {
            totals[arm].failedRequests++;
          }
        }
      }),
    );
    const sec = (performance.now() - t0) / 1000;
    totals[arm].seconds += sec;
    totals[arm].acceptedTxs += accepted;
    return accepted / sec;
  };
  process.stderr.write(`client arm: ${clientRounds} rounds, raw fetch vs HotledgerClient.submit()...\n`);
  try {
    // Untimed: the first request of each arm pays for the connection and the JIT.
    await submitRaw(next++);
    await submitClient(next++);
    for (let r = 0; r < clientRounds; r++) {
      const order: Array<'raw' | 'client'> = r % 2 === 0 ? ['raw', 'client'] : ['client', 'raw'];
      const rate: Record<string, number> = {};
      for (const arm of order) rate[arm] = await segment(arm);
      roundCostPct.push((1 - rate.client! / rate.raw!) * 100);
    }
  } finally {
    client.close();
  }
  const rate = (t: { seconds: number; acceptedTxs: number }) => t.acceptedTxs / t.seconds;
  const finish = (t: typeof totals.raw): ArmTotals => ({ ...t, seconds: Number(t.seconds.toFixed(3)), txPerSec: Math.round(rate(t)) });
  const sorted = [...roundCostPct].sort((a, b) => a - b);
  const median = sorted.length % 2 ? sorted[(sorted.length - 1) / 2]! : (sorted[sorted.length / 2 - 1]! + sorted[sorted.length / 2]!) / 2;
  return {
    rounds: clientRounds,
    batchesPerArmPerRound: clientBatches,
    inFlight: clientConnections,
    raw: finish(totals.raw),
    client: finish(totals.client),
    clientCostPct: Number(((1 - rate(totals.client) / rate(totals.raw)) * 100).toFixed(2)),
    medianRoundCostPct: Number(median.toFixed(2)),
    roundCostPct: roundCostPct.map((c) => Number(c.toFixed(2))),
  };
}

main().catch((e: unknown) => {
  process.stderr.write(`error: ${(e as Error).message ?? String(e)}\n`);
  process.exit(1);
});
