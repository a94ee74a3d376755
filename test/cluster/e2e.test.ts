import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { E2E_CATEGORIES } from '../../src/e2e/checks.js';
import { compiledPath } from '../../src/runtime/module-path.js';
import { tempDir } from '../support/fixtures.js';
import { spawnSync } from 'node:child_process';

/**
 * The e2e runner on real processes, as `npm run e2e` runs it (dist/ must be built): 4 validators,
 * 1 business and 1 slim node, one process each. One node per process because the failover
 * category kills the leader's whole process: with 2 validators per process, 4 validators lose 2
 * (f = 1) and the runner rightly reports the failover as not tolerated.
 */
const dir = tempDir('hotledger-e2e-test-');
afterAll(() => dir.remove());

describe('npm run e2e (4 validators + 1 business + 1 slim)', () => {
  it('passes every category and writes the figures to --json', () => {
    const main = compiledPath('../../src/e2e/main.ts', import.meta.url);
    const json = join(dir.path, 'e2e.json');
    const args = ['--validators', '4', '--business', '1', '--slim', '1', '--per-process', '1', '--txs', '500', '--sample', '100', '--senders', '64', '--failover-txs', '200'];
    const r = spawnSync(process.execPath, [main, ...args, '--dir', join(dir.path, 'cluster'), '--json', json], { encoding: 'utf8', timeout: 100_000 });
    const out = `${r.stdout}\n${r.stderr}`;
    expect(r.status, out).toBe(0);
    expect(r.stdout).toMatch(/\| connectivity +\| PASS/);
    const report = JSON.parse(readFileSync(json, 'utf8')) as {
      pass: boolean;
      results: { category: string; pass: boolean; figure: string; seconds: number; details: Record<string, unknown> }[];
      performance: { tps: number; finalityMs: { p50: number; p95: number; p99: number }; rssMbPerNode: number };
    };
    expect(report.pass, out).toBe(true);
    expect(report.results.map((c) => c.category)).toEqual([...E2E_CATEGORIES]);
    for (const c of report.results) {
      expect(c.pass, `${c.category}: ${c.figure}`).toBe(true);
      expect(c.seconds).toBeGreaterThanOrEqual(0);
    }
    const by = Object.fromEntries(report.results.map((c) => [c.category, c.details]));
    expect(by.connectivity).toMatchObject({ nodes: 6, ready: 6 });
    expect(by.api).toMatchObject({ ok: 6 });
    expect(by.transactions).toMatchObject({ submitted: 500, committed: 500, ingress: ['b0'], sampleMissing: 0, slim: 's0 refuses: 403 ROLE_READ_ONLY' });
    // Contract deployment validation: the token deployed through b0 and called, the same on all 6 nodes.
    expect(by.transactions!.contract).toMatchObject({ nodesAgreeing: 6 });
    expect(by.failover).toMatchObject({ tolerated: true, validatorsLost: 1, f: 1, lost: 0 });
    expect(by.failover!.acknowledgedAfterKill as number).toBeGreaterThan(0);
    expect(by.failover!.resumedSeconds as number).toBeGreaterThan(0);
    expect(by.consistency).toMatchObject({ agree: true, nodes: 5, mismatches: [] });
    const p = report.performance;
    expect(p.tps).toBeGreaterThan(0);
    expect(p.finalityMs.p50).toBeGreaterThan(0);
    expect(p.finalityMs.p99).toBeGreaterThanOrEqual(p.finalityMs.p95);
    expect(p.finalityMs.p95).toBeGreaterThanOrEqual(p.finalityMs.p50);
    expect(p.rssMbPerNode).toBeGreaterThan(10);
  }, 110_000);
});
