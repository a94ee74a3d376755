import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { ClusterSupervisor, waitClusterReady } from '../../src/cluster/supervisor.js';
import { postTxs } from '../../src/cluster/http.js';
import { freePorts, planTopology, writeTopology } from '../../src/cluster/topology.js';
import { DASHBOARD_PANELS } from '../../src/deploy/grafana.js';
import { ALERT_RULES, prometheusConfig, prometheusRules, RECORDING_RULES, RULES_FILE } from '../../src/deploy/prometheus.js';
import { TX_SIZE } from '../../src/tx/layout.js';
import { devnetKeyPair, generateTransfers } from '../../src/workload/generate.js';
import { tempDir } from '../support/fixtures.js';
import { pollUntil } from '../support/poll.js';

/**
 * A real Prometheus (Debian's `prometheus` package) scraping a real cluster through the generated
 * prometheus.yml and rules: 4 validators in 2 host processes and a business node of its own.
 * Every dashboard expression and every recording rule must return data, every alert expression
 * must evaluate, and Prometheus must report every rule healthy.
 */
const prometheusBinary = spawnSync('prometheus', ['--version'], { timeout: 10_000 }).status === 0;
const CHAIN = 4242;
const dir = tempDir('hotledger-prom-live-');
let sup: ClusterSupervisor | undefined;
let prom: ChildProcess | undefined;
let promErr = '';

afterAll(async () => {
  prom?.kill('SIGKILL');
  await sup?.stop('SIGKILL');
  dir.remove();
});

async function query(base: string, expr: string): Promise<{ status: string; data?: { result: unknown[] }; error?: string }> {
  const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(expr)}`, { signal: AbortSignal.timeout(5_000) });
  return (await res.json()) as { status: string; data?: { result: unknown[] }; error?: string };
}

const waitFor = <T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined | false>): Promise<T> =>
  pollUntil(what, timeoutMs, () => probe().catch(() => undefined), { intervalMs: 250, context: () => `prometheus stderr ends:\n${promErr.slice(-1500)}` });

describe.skipIf(!prometheusBinary)('Prometheus against a real cluster', () => {
  it('scrapes every node, and every dashboard and rule expression returns data', async () => {
    const t = await planTopology({ validators: 4, business: 1, perProcess: 2, dir: join(dir.path, 'cluster'), basePort: 0, accounts: 4, chainId: CHAIN, timeoutMs: 1_000 });
    writeTopology(t, { logLevel: 'warn' });
    sup = new ClusterSupervisor(t);
    await sup.start();
    await waitClusterReady(sup, 30_000);

    writeFileSync(join(dir.path, 'prometheus.yml'), stringify(prometheusConfig(t, { scrapeInterval: '1s' })));
    writeFileSync(join(dir.path, RULES_FILE), stringify(prometheusRules()));
    const [port] = await freePorts(1);
    const base = `http://127.0.0.1:${port}`;
    prom = spawn('prometheus', [`--config.file=${join(dir.path, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir.path, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    prom.stderr!.on('data', (b: Buffer) => {
      promErr = (promErr + b.toString()).slice(-20_000);
    });
    await waitFor('every node scraped and up', 20_000, async () => {
      const r = await query(base, 'sum(up{job="hotledger"})');
      return Number((r.data?.result[0] as { value: [number, string] } | undefined)?.value[1]) === t.nodes.length;
    });

    // Transfers for a few seconds, to validators and through the business node, so rates and histograms move.
    const v0 = sup.url(0);
    const b0 = sup.url(t.nodes.findIndex((n) => n.role === 'business'));
    const toValidator = generateTransfers({
      chainId: CHAIN,
      senders: [devnetKeyPair(CHAIN, 0), devnetKeyPair(CHAIN, 1)],
      recipients: [devnetKeyPair(CHAIN, 3).publicKey],
      count: 200,
    });
    const toBusiness = generateTransfers({ chainId: CHAIN, senders: [devnetKeyPair(CHAIN, 2)], recipients: [devnetKeyPair(CHAIN, 3).publicKey], count: 100 });
    for (let i = 0; i < 10; i++) {
      expect(await postTxs(v0, toValidator.subarray(i * 20 * TX_SIZE, (i + 1) * 20 * TX_SIZE))).toMatchObject({ status: 202, accepted: 20, codes: [] });
      expect(await postTxs(b0, toBusiness.subarray(i * 10 * TX_SIZE, (i + 1) * 10 * TX_SIZE))).toMatchObject({ status: 202, accepted: 10, codes: [] });
      await new Promise((r) => setTimeout(r, 400));
    }

    const needData = [...DASHBOARD_PANELS.flatMap((p) => p.targets.map((x) => x.expr)), ...RECORDING_RULES.map((r) => r.expr), ...RECORDING_RULES.map((r) => r.record)];
    let missing: string[] = [];
    await waitFor('data from every dashboard and recording-rule expression', 20_000, async () => {
      missing = [];
      for (const expr of needData) {
        const r = await query(base, expr);
        // A series whose every value is NaN (a quantile or mean of nothing) is not data.
        const values = (r.data?.result ?? []).map((x) => Number((x as { value: [number, string] }).value[1]));
        if (r.status !== 'success' || !values.some(Number.isFinite)) missing.push(`${expr}: ${r.error ?? 'no finite value'}`);
      }
      return missing.length === 0;
    }).catch((e) => {
      throw new Error(`${(e as Error).message.split(';')[0]}; without data:\n${missing.join('\n')}`);
    });
    for (const a of ALERT_RULES) expect((await query(base, a.expr)).status, a.expr).toBe('success');
    // Healthy cluster: the node-down and isolation alerts have nothing to say.
    expect((await query(base, ALERT_RULES[0]!.expr)).data?.result).toEqual([]);
    expect((await query(base, ALERT_RULES[1]!.expr)).data?.result).toEqual([]);
    const rules = (await (await fetch(`${base}/api/v1/rules`)).json()) as { data: { groups: { rules: { name: string; health: string; lastError?: string }[] }[] } };
    const all = rules.data.groups.flatMap((g) => g.rules);
    expect(all.length).toBe(RECORDING_RULES.length + ALERT_RULES.length);
    expect(all.filter((r) => r.health !== 'ok')).toEqual([]);
  }, 90_000);
});
