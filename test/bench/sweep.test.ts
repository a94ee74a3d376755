import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSweepFile } from '../../bench/sweep-file.js';

const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'hotledger-sweep-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The built sweep (npm test builds dist/ first), as `npm run bench:sweep` runs it. One verify thread: fewer workers to start. */
const sweep = (args: string[], timeout = 110_000) => spawnSync(process.execPath, [join(root, 'dist', 'bench', 'sweep.js'), ...args], { cwd: root, encoding: 'utf8', timeout });

describe('npm run bench:sweep', () => {
  it('runs the engine bench once per value, applies the value through HOTLEDGER_BATCH_SIZE, and records TPS beside the same-run ceiling', () => {
    const out = join(dir, 'pipeline.batchSize.json');
    const r = sweep([
      '--knob',
      'batchSize',
      '--values',
      '100,1000',
      '--repeat',
      '1',
      '--bench-args=--txs 1000 --accounts 50 --rate-seconds 1 --threads 1 --execute-persist-txs 1000',
      '--out',
      out,
    ]);
    expect(r.status, r.stderr.slice(-2000)).toBe(0);
    const f = parseSweepFile(readFileSync(out, 'utf8'), out);
    expect(f.knob).toBe('pipeline.batchSize');
    expect(f.bench).toBe('engine');
    expect(f.appliedBy).toBe('HOTLEDGER_BATCH_SIZE=<value>');
    expect(f.commit).toMatch(/^[0-9a-f]{40}$/);
    expect(f.machine.cores).toBeGreaterThanOrEqual(1);
    expect(f.runs.map((run) => run.value)).toEqual([100, 1000]);
    for (const run of f.runs) {
      expect(run.summary.tps).toBeGreaterThan(0);
      expect(run.summary.ceilingTps).toBeGreaterThan(0);
      expect(run.summary.ratio).toBeCloseTo(run.summary.tps / run.summary.ceilingTps, 2);
      // The node the bench started really ran with the swept value.
      expect((run.result.settings as { pipeline: { batchSize: number } }).pipeline.batchSize).toBe(run.value);
    }
    // Progress goes to stderr; stdout is the summary.
    expect(r.stderr).toContain('[2/2] pipeline.batchSize = 1000');
    expect(r.stdout).toContain('wrote');
    // Both engine runs took 12 s at a load average of ~18 (2026-11-29); the bound leaves room for a busier machine.
  }, 120_000);

  it('refuses an unknown knob, and a knob the chosen bench cannot apply, naming the allowed ones', () => {
    const unknown = sweep(['--knob', 'pipeline.nope', '--values', '1,2', '--out', join(dir, 'x.json')]);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain('--knob "pipeline.nope" is not a knob the sweep can apply; allowed: pipeline.threads, pipeline.batchSize');
    const wrongBench = sweep(['--knob', 'storage.cacheSizeMb', '--bench', 'cluster', '--values', '1,2', '--out', join(dir, 'x.json')]);
    expect(wrongBench.status).toBe(2);
    expect(wrongBench.stderr).toContain('--knob storage.cacheSizeMb cannot be applied by the cluster bench (it can by: engine)');
    const outOfRange = sweep(['--knob', 'consensus.timeoutMs', '--values', '10', '--out', join(dir, 'x.json')]);
    expect(outOfRange.status).toBe(2);
    expect(outOfRange.stderr).toContain('consensus.timeoutMs must be an integer from 50 to 60000 (got "10")');
  });
});
