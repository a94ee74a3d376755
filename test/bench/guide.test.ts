import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadSweeps, renderGuide } from '../../bench/guide-render.js';
import { parseSweepFile, SweepFileError, type SweepFile } from '../../bench/sweep-file.js';

const root = join(import.meta.dirname, '..', '..');
const guidePath = join(root, 'PERFORMANCE-OPTIMIZATION-GUIDE.md');

/** A small well-formed sweep; each test breaks one thing in a copy. */
function sweep(): SweepFile {
  const run = (value: number, repeat: number) => ({
    value,
    repeat,
    startedAt: '2026-11-29T13:00:00.000Z',
    seconds: 30,
    loadAvg1: 1.5,
    effective: value,
    summary: { tps: 9000, ceilingTps: 10000, ratio: 0.9, latencyMs: { p50: 10, p95: 20, p99: 30 }, latencyAt: 'fixed rate 7,200 tx/s', rssMb: 300 },
    result: { tps: 9000 },
  });
  return {
    format: 1,
    knob: 'pipeline.batchSize',
    bench: 'engine',
    appliedBy: 'HOTLEDGER_BATCH_SIZE=<value>',
    values: [100, 1000],
    repeat: 2,
    command: 'npm run bench:sweep -- --knob batchSize --values 100,1000',
    benchArgs: ['--txs', '40000'],
    commit: 'c2dd88be6d7b279141e95af5dfb7a90b0b21e7c4',
    dirty: false,
    startedAt: '2026-11-29T13:00:00.000Z',
    finishedAt: '2026-11-29T13:02:00.000Z',
    machine: { cpuModel: 'AMD EPYC', cores: 2, node: 'v20.20.2', os: 'Linux 6.1' },
    runs: [run(100, 1), run(1000, 1), run(100, 2), run(1000, 2)],
  };
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function sweepDir(files: Record<string, string>): string {
  const d = mkdtempSync(join(tmpdir(), 'hotledger-guide-test-'));
  dirs.push(d);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(d, name), text);
  return d;
}

describe('PERFORMANCE-OPTIMIZATION-GUIDE.md', () => {
  it('is exactly what the committed docs/sweeps/*.json render (run npm run guide after a sweep; never edit a table by hand)', () => {
    const guide = readFileSync(guidePath, 'utf8');
    const sweeps = loadSweeps(join(root, 'docs', 'sweeps'));
    expect(sweeps.length).toBeGreaterThanOrEqual(5);
    expect(renderGuide(guide, sweeps)).toBe(guide);
  });

  it('a hand-edited table cell does not survive rendering', () => {
    const guide = readFileSync(guidePath, 'utf8');
    const sweeps = loadSweeps(join(root, 'docs', 'sweeps'));
    const knob = sweeps[0]!.sweep.knob;
    const block = guide.indexOf(`<!-- sweep:${knob} -->`);
    const cell = guide.indexOf(' / ', block);
    const edited = `${guide.slice(0, cell)}0${guide.slice(cell)}`;
    expect(renderGuide(edited, sweeps)).toBe(guide);
  });
});

describe('renderGuide', () => {
  const text = `# guide\n\nprose stays\n\n<!-- sweep:pipeline.batchSize -->\nold table\n<!-- /sweep:pipeline.batchSize -->\n\nmore prose\n`;
  const loaded = () => loadSweeps(sweepDir({ 'pipeline.batchSize.json': JSON.stringify(sweep()) }));

  it('replaces only the marked block: machine, date, commit, command, and each run as TPS / ceiling (ratio)', () => {
    const out = renderGuide(text, loaded());
    expect(out.startsWith('# guide\n\nprose stays\n\n<!-- sweep:pipeline.batchSize -->\n')).toBe(true);
    expect(out.endsWith('<!-- /sweep:pipeline.batchSize -->\n\nmore prose\n')).toBe(true);
    expect(out).not.toContain('old table');
    expect(out).toContain('Machine: AMD EPYC, 2 cores, Node v20.20.2');
    expect(out).toContain('2026-11-29 13:00 UTC to 2026-11-29 13:02 UTC');
    expect(out).toContain('`c2dd88be6d`');
    expect(out).toContain('`npm run bench:sweep -- --knob batchSize --values 100,1000`');
    expect(out).toContain('| 100 | 9,000 / 10,000 (90.0 %); 9,000 / 10,000 (90.0 %) | 90.0 % | 10.0 / 20.0 / 30.0 | 300 |');
    expect(renderGuide(out, loaded())).toBe(out);
  });

  it('refuses a block without a sweep, a sweep without a block, and an unclosed block', () => {
    expect(() => renderGuide(text.replaceAll('batchSize', 'threads'), loaded())).toThrow(/no docs\/sweeps\/pipeline\.threads\.json/);
    expect(() => renderGuide('# guide\n', loaded())).toThrow(/pipeline\.batchSize\.json has no <!-- sweep:pipeline\.batchSize -->/);
    expect(() => renderGuide('<!-- sweep:pipeline.batchSize -->\nx\n', loaded())).toThrow(/has no <!-- \/sweep:pipeline\.batchSize -->/);
  });
});

describe('malformed sweep JSON', () => {
  const refused = (mutate: (s: Record<string, unknown>) => void) => {
    const s = sweep() as unknown as Record<string, unknown>;
    mutate(s);
    try {
      parseSweepFile(JSON.stringify(s), 'docs/sweeps/x.json');
    } catch (e) {
      expect(e).toBeInstanceOf(SweepFileError);
      return (e as Error).message;
    }
    throw new Error('accepted');
  };

  it('names the file and the field', () => {
    expect(refused((s) => delete (s.runs as { summary: Record<string, unknown> }[])[2]!.summary.ceilingTps)).toMatch(
      /^docs\/sweeps\/x\.json: not a usable sweep file:\n {2}runs\.2\.summary\.ceilingTps: /,
    );
    expect(refused((s) => ((s.runs as { summary: Record<string, unknown> }[])[0]!.summary.tps = 'fast'))).toContain('runs.0.summary.tps');
    expect(refused((s) => (s.commit = 'HEAD'))).toContain('commit:');
    expect(refused((s) => (s.format = 2))).toContain('format:');
  });

  it('refuses runs that do not match values × repeat', () => {
    expect(refused((s) => (s.runs as unknown[]).pop())).toContain('value 1000 has 1 run(s), expected 2 (repeat)');
    expect(refused((s) => ((s.runs as { value: number }[])[0]!.value = 7))).toContain('runs.0.value: 7 is not one of values [100, 1000]');
  });

  it('refuses text that is not JSON, and a file named other than its knob', () => {
    expect(() => parseSweepFile('{"format": 1,', 'docs/sweeps/x.json')).toThrow(/docs\/sweeps\/x\.json: not a usable sweep file:\n {2}invalid JSON/);
    const d = sweepDir({ 'batchSize.json': JSON.stringify(sweep()) });
    expect(() => loadSweeps(d)).toThrow(/the file must be named pipeline\.batchSize\.json/);
  });
});
