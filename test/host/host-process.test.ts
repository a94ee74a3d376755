import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planTopology, type Topology, writeTopology } from '../../src/cluster/topology.js';
import { getJson, postTxs, tryGetJson } from '../../src/cluster/http.js';
import { projectRoot } from '../../src/runtime/module-path.js';
import { devnetKeyPair, generateTransfers } from '../../src/workload/generate.js';
import { txId } from '../../src/tx/codec.js';
import type { BlockView, TxStatusView } from '../../src/node/node-api.js';
import { faultTolerance } from '../../src/consensus/types.js';
import { pollUntil } from '../support/poll.js';

/**
 * One real `hotledger host` process hosting 4 validators on one verify pool (dist/ must be built).
 * Tests run in order and share the process.
 */
const N = 4;
const CHAIN = 4343;
const SENDERS = 8;
const PER_SENDER = 25;

let dir: string;
let topo: Topology;
let child: ChildProcess;
let stdout = '';
let stderr = '';
let exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
const url = (i: number) => `http://127.0.0.1:${topo.nodes[i]!.apiPort}`;

const waitFor = <T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined | false>): Promise<T> =>
  pollUntil(what, timeoutMs, probe, { context: () => `host stderr ends: ${stderr.slice(-1500)}` });

/** hotledger_host_batch_verifications_total{kind=...} of node i's /q/metrics (the process's figures). */
async function verifications(i: number): Promise<{ requested: number; run: number; joined: number; cached: number }> {
  const text = await (await fetch(`${url(i)}/q/metrics`)).text();
  const of = (kind: string) => Number(new RegExp(`^hotledger_host_batch_verifications_total\\{kind="${kind}"\\} (\\d+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  return { requested: of('requested'), run: of('run'), joined: of('joined'), cached: of('cached') };
}

/** Batches in committed blocks as node i counts them (every origin's). */
async function committedBatches(i: number): Promise<number> {
  const text = await (await fetch(`${url(i)}/q/metrics`)).text();
  return Number(/^hotledger_batch_size_count(?:\{\})? (\d+)$/m.exec(text)?.[1] ?? Number.NaN);
}

function rssMb(pid: number): number {
  const kb = Number(/^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
  return kb / 1024;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hotledger-host-test-'));
  topo = await planTopology({ validators: N, dir, basePort: 0, chainId: CHAIN, accounts: SENDERS + 1, threads: 1, timeoutMs: 1_000, heartbeatMs: 100 });
  writeTopology(topo, { logLevel: 'warn', extra: { pipeline: { batchTimeoutMs: 5 }, storage: { cacheSizeMb: 16, mapSizeMb: 1024 } } });
  writeFileSync(join(dir, 'host.json'), JSON.stringify({ verify: { threads: 2 }, nodes: topo.nodes.map((n) => `${n.id}/node.json`) }));
  child = spawn(process.execPath, [join(projectRoot(), 'dist', 'src', 'cli', 'main.js'), 'host', '--config', join(dir, 'host.json')], {
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    env: { ...process.env, HOTLEDGER_PROFILE: '' },
  });
  child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  await waitFor('every hosted validator ready', 30_000, async () => {
    if (child.exitCode !== null) throw new Error(`host exited with ${child.exitCode}: ${stderr.slice(-1500)}`);
    const ready = await Promise.all(topo.nodes.map((_, i) => tryGetJson<{ status: string }>(`${url(i)}/q/health/ready`)));
    return ready.every((r) => r?.status === 'UP');
  });
}, 45_000);

afterAll(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe(`hotledger host: ${N} validators in one process, one verify pool`, () => {
  it('forms a consensus cluster and commits transfers sent to every hosted node, with one state root', async () => {
    expect(stdout).toMatch(new RegExp(`hotledger host: ${N} logical nodes in pid ${child.pid}, one verify pool of 2 thread`));
    const ids: string[] = [];
    await Promise.all(
      Array.from({ length: SENDERS }, async (_, s) => {
        const txs = generateTransfers({ chainId: CHAIN, senders: [devnetKeyPair(CHAIN, 1 + s)], recipients: [devnetKeyPair(CHAIN, 0).publicKey], count: PER_SENDER });
        for (let k = 0; k < PER_SENDER; k++) ids.push(txId(txs, k * 168).toString('hex'));
        // Each sender to one node (its nonces stay in order), in five submissions: every node seals
        // several batches of its own, which the other three receive.
        for (let part = 0; part < 5; part++) {
          const slice = txs.subarray((part * PER_SENDER * 168) / 5, ((part + 1) * PER_SENDER * 168) / 5);
          const ans = await postTxs(url(s % N), slice);
          expect(ans).toMatchObject({ status: 202, accepted: PER_SENDER / 5 });
          await new Promise((r) => setTimeout(r, 20));
        }
      }),
    );
    for (let i = 0; i < N; i++) {
      await waitFor(`all ${ids.length} transfers committed on v${i}`, 20_000, async () => {
        const last = await tryGetJson<TxStatusView>(`${url(i)}/api/v11/transactions/${ids.at(-1)}`);
        if (last?.status !== 'committed') return false;
        const all = await Promise.all(ids.map((id) => tryGetJson<TxStatusView>(`${url(i)}/api/v11/transactions/${id}`)));
        return all.every((t) => t?.status === 'committed');
      });
    }
    const tips = await waitFor('hosted validators to agree on the tip', 10_000, async () => {
      const t = await Promise.all(topo.nodes.map((_, i) => tryGetJson<BlockView>(`${url(i)}/api/v11/blocks/latest`)));
      return t.every((b) => b && b.height === t[0]!.height && b.stateRoot === t[0]!.stateRoot) ? t : undefined;
    });
    expect(tips[0]!.height).toBeGreaterThanOrEqual(1);
    const recipient = await getJson<{ balance: number | string }>(`${url(3)}/api/v11/accounts/${Buffer.from(devnetKeyPair(CHAIN, 0).publicKey).toString('hex')}`);
    expect(Number(recipient.balance)).toBe(1_000_000_000 + (SENDERS * PER_SENDER * (PER_SENDER + 1)) / 2); // amounts 1..25 per sender
  });

  it('verifies each peer batch once per process, not once per validator; reports RSS per logical node', async () => {
    const v = await verifications(0);
    // The same process-wide figures on every hosted node.
    expect(await verifications(3)).toEqual(v);
    const batches = await committedBatches(0);
    const rss = rssMb(child.pid!);
    process.stdout.write(
      `host: ${batches} batches committed; peer-batch verifications requested ${v.requested}, run ${v.run} (joined ${v.joined}, cached ${v.cached}); RSS ${rss.toFixed(1)} MB for ${N} nodes = ${(rss / N).toFixed(1)} MB per logical node\n`,
    );
    expect(batches).toBeGreaterThanOrEqual(N);
    // With batch certificates a peer batch is verified by its f designated verifiers besides its
    // origin (more only on escalation), not by all N - 1: at least f ask per batch, and however
    // many co-hosted validators ask, the process runs it at most once.
    expect(v.requested).toBeGreaterThanOrEqual(faultTolerance(N).f * (batches - 1));
    expect(v.run).toBeLessThanOrEqual(batches);
    expect(v.run).toBeGreaterThanOrEqual(1);
    expect(v.run + v.joined + v.cached).toBe(v.requested);
  });

  it('stops every node on SIGTERM and exits 0, releasing every data dir', async () => {
    child.kill('SIGTERM');
    const r = await Promise.race([exited, new Promise<never>((_, rej) => setTimeout(() => rej(new Error('host did not exit within 20 s')), 20_000))]);
    expect(r).toEqual({ code: 0, signal: null });
    expect(stderr).toMatch(/SIGTERM: shutting down 4 nodes/);
    for (const n of topo.nodes) expect(existsSync(join(n.dataDir, 'LOCK'))).toBe(false);
  });
});

describe('hotledger host refuses a host.json whose nodes share a data dir', () => {
  it('exits 1 with the key named, before any node starts', () => {
    const bad = join(dir, 'bad-host.json');
    const nodes = topo.nodes.slice(0, 2).map((n) => JSON.parse(readFileSync(join(dir, n.id, 'node.json'), 'utf8')) as { node: { dataDir: string } });
    nodes[1]!.node.dataDir = nodes[0]!.node.dataDir;
    writeFileSync(bad, JSON.stringify({ nodes }));
    const r = spawnSync(process.execPath, [join(projectRoot(), 'dist', 'src', 'cli', 'main.js'), 'host', '--config', bad], { encoding: 'utf8', timeout: 20_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^error: .*key nodes\[1\]\.node\.dataDir: .* is already used by nodes\[0\].*\(CONFIG_INVALID\)$/m);
    expect(r.stdout).not.toMatch(/hotledger host:/);
  });
});

describe('hotledger host never runs with part of its nodes', () => {
  it('exits 1 when one node cannot start, closing those already started (their data dirs released)', async () => {
    // Node 2's peer port taken by another listener: nodes 0 and 1 have started when it fails.
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(topo.nodes[2]!.peerPort, '127.0.0.1', r));
    try {
      const r = spawnSync(process.execPath, [join(projectRoot(), 'dist', 'src', 'cli', 'main.js'), 'host', '--config', join(dir, 'host.json')], {
        encoding: 'utf8',
        timeout: 30_000,
      });
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^error: .*EADDRINUSE/m);
      expect(r.stdout).not.toMatch(/hotledger host:/);
      expect(topo.nodes.filter((n) => existsSync(join(n.dataDir, 'LOCK'))).map((n) => n.id)).toEqual([]);
    } finally {
      await new Promise((r) => blocker.close(r));
    }
  });
});
