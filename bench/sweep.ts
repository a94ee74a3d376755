/**
 * Sweep one knob over a list of values with an existing bench (engine or cluster) run as a child
 * process with `--json`; writes every run's full result into one JSON file (docs/sweeps/<knob>.json).
 *
 *   npm run bench:sweep -- --knob <key> --values a,b,c [--repeat N] [--bench engine|cluster]
 *                          [--bench-args "<flags for the bench>"] [--out file.json] [--run-timeout-s S]
 *
 * Values are interleaved across repeats (a,b,c,a,b,c): the shared machine drifts within minutes,
 * and a drift must not fall on one value. Each run's value is checked against what the bench
 * reports it ran with; a value that did not take effect stops the sweep.
 */
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, tmpdir, type } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { projectRoot } from '../src/runtime/module-path.js';
import { ConfigError, HotledgerError } from '../src/errors.js';
import { SWEEP_BENCHES, applicationOf, findKnob, parseValues, type BenchResult, type SweepBench } from './sweep-knobs.js';
import { SWEEP_FORMAT, SweepFileSchema, type RunSummary, type SweepFile, type SweepRun } from './sweep-file.js';

/**
 * Sizes that let a sweep of 3-4 values × 2-3 repeats finish in minutes on 2 cores; --bench-args
 * replaces any of them (e.g. --bench-args "--txs 200000" for the engine's full workload).
 */
const DEFAULT_BENCH_ARGS: Record<SweepBench, string[]> = {
  // The execute+persist stage alone is not in the guide's tables: 100,000 transfers instead of the bench's 1,000,000.
  engine: ['--txs', '40000', '--accounts', '2000', '--rate-seconds', '4', '--execute-persist-txs', '100000'],
  cluster: ['--validators', '4', '--warmup', '4', '--duration', '10', '--latency-duration', '8'],
};

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const pct = (n: number) => `${(n * 100).toFixed(1)} %`;
const log = (s: string) => process.stderr.write(`${s}\n`);

function shellWord(s: string): string {
  return /^[\w.,=:/@%+-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Bench args: the defaults, with any flag the user gave replacing the default's value. */
function mergeArgs(defaults: string[], given: string[]): string[] {
  const givenFlags = new Set(given.filter((a) => a.startsWith('--')));
  const out: string[] = [];
  for (let i = 0; i < defaults.length; i++) {
    const a = defaults[i]!;
    const hasValue = i + 1 < defaults.length && !defaults[i + 1]!.startsWith('--');
    if (!givenFlags.has(a)) out.push(a, ...(hasValue ? [defaults[i + 1]!] : []));
    if (hasValue) i++;
  }
  return [...out, ...given];
}

function git(args: string[]): string {
  return execFileSync('git', args, { cwd: projectRoot(), encoding: 'utf8' }).trim();
}

function num(r: BenchResult, key: string): number {
  const v = r[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new HotledgerError('INTERNAL', `bench result has no number ${key} (got ${JSON.stringify(v)})`);
  return v;
}

function latencyOf(r: BenchResult, key: string): RunSummary['latencyMs'] {
  const l = (r[key] ?? {}) as Record<string, unknown>;
  const pick = (p: string) => {
    if (typeof l[p] !== 'number') throw new HotledgerError('INTERNAL', `bench result has no ${key}.${p}`);
    return l[p] as number;
  };
  return { p50: pick('p50'), p95: pick('p95'), p99: pick('p99') };
}

/** The figures a guide table shows, from either bench's JSON. */
function summarize(bench: SweepBench, r: BenchResult): RunSummary {
  if (bench === 'engine') {
    return {
      tps: Math.round(num(r, 'tps')),
      ceilingTps: Math.round(num(r, 'ceilingTps')),
      ratio: Number(num(r, 'ratio').toFixed(4)),
      latencyMs: latencyOf(r, 'latencyMs'),
      latencyAt: `fixed rate ${fmt(num(r, 'offeredRate'))} tx/s (80 % of saturation)`,
      rssMb: num(r, 'peakRssMb'),
    };
  }
  const latency = (r.latency ?? {}) as Record<string, unknown>;
  return {
    tps: num(r, 'tps'),
    ceilingTps: num(r, 'ceilingTps'),
    ratio: num(r, 'efficiency'),
    latencyMs: latencyOf(r, 'latencyMs'),
    latencyAt: `${fmt(Number(latency.offeredTps ?? 0))} tx/s (half of saturation)`,
    rssMb: num(r, 'rssMbPerNode'),
    readyMs: num(r, 'readyMs'),
    viewChanges: num(r, 'viewChanges'),
  };
}

/** Runs the bench once; resolves its parsed `--json` result. */
function runBench(bench: SweepBench, args: string[], env: NodeJS.ProcessEnv, timeoutS: number): Promise<BenchResult> {
  const dir = mkdtempSync(join(tmpdir(), 'hotledger-sweep-'));
  const out = join(dir, 'result.json');
  const script = join(projectRoot(), 'dist', 'bench', `${bench}.js`);
  return new Promise<BenchResult>((resolve, reject) => {
    // The bench's report goes to stderr too: stdout is the sweep's own summary.
    const child = spawn(process.execPath, [script, ...args, '--json', out], { env, stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.pipe(process.stderr);
    const timer = setTimeout(() => {
      log(`sweep: the ${bench} bench ran past --run-timeout-s ${timeoutS}; stopping it (pid ${child.pid})`);
      child.kill('SIGTERM');
    }, timeoutS * 1000);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      try {
        if (code !== 0) throw new HotledgerError('INTERNAL', `the ${bench} bench exited with ${signal ?? `code ${code}`} (args: ${args.join(' ')})`);
        resolve(JSON.parse(readFileSync(out, 'utf8')) as BenchResult);
      } catch (e) {
        reject(e);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

async function main(): Promise<void> {
  const { values: opts } = parseArgs({
    options: {
      knob: { type: 'string' },
      values: { type: 'string' },
      repeat: { type: 'string', default: '2' },
      bench: { type: 'string' },
      'bench-args': { type: 'string', default: '' },
      out: { type: 'string' },
      'run-timeout-s': { type: 'string', default: '900' },
      help: { type: 'boolean', default: false },
    },
    allowPositionals: false,
  });
  if (opts.help || !opts.knob || !opts.values) {
    const { KNOBS } = await import('./sweep-knobs.js');
    log('usage: npm run bench:sweep -- --knob <key> --values a,b,c [--repeat N] [--bench engine|cluster] [--bench-args "..."] [--out file.json]');
    log('knobs (default bench, then the others that can apply it):');
    for (const k of KNOBS) log(`  ${k.key.padEnd(28)} ${Object.keys(k.apply).join(', ').padEnd(16)} ${k.about}`);
    process.exit(opts.help ? 0 : 2);
  }
  const knob = findKnob(opts.knob);
  if (opts.bench !== undefined && !(SWEEP_BENCHES as readonly string[]).includes(opts.bench)) {
    throw new ConfigError(`--bench must be one of ${SWEEP_BENCHES.join(', ')} (got ${JSON.stringify(opts.bench)})`);
  }
  const bench = (opts.bench as SweepBench | undefined) ?? knob.bench;
  const application = applicationOf(knob, bench);
  const values = parseValues(knob, opts.values);
  const repeat = Number(opts.repeat);
  if (!Number.isInteger(repeat) || repeat < 1 || repeat > 20) throw new ConfigError(`--repeat must be an integer from 1 to 20 (got ${JSON.stringify(opts.repeat)})`);
  const timeoutS = Number(opts['run-timeout-s']);
  if (!Number.isInteger(timeoutS) || timeoutS < 10) throw new ConfigError(`--run-timeout-s must be an integer of at least 10 (got ${JSON.stringify(opts['run-timeout-s'])})`);
  const given = opts['bench-args'].split(/\s+/).filter((s) => s !== '');
  const knobFlag = application.args?.(0)[0];
  if (knobFlag && given.includes(knobFlag)) throw new ConfigError(`--bench-args must not set ${knobFlag}: the sweep sets it to each of --values`);
  if (given.includes('--json')) throw new ConfigError('--bench-args must not set --json: the sweep reads each run through its own');
  const benchArgs = mergeArgs(DEFAULT_BENCH_ARGS[bench], given);
  const outPath = opts.out ?? join(projectRoot(), 'docs', 'sweeps', `${knob.key}.json`);
  const appliedBy = application.env ? `${application.env}=<value>` : `${knobFlag} <value>`;

  const cpuModel = cpus()[0]?.model.trim() ?? 'unknown cpu';
  const machine = { cpuModel, cores: availableParallelism(), node: process.version, os: `${type()} ${release()}` };
  const commit = git(['rev-parse', 'HEAD']);
  const dirty = git(['status', '--porcelain', '--untracked-files=no', '--', 'src', 'bench', 'config']) !== '';
  const command = `npm run bench:sweep -- ${process.argv.slice(2).map(shellWord).join(' ')}`;
  const startedAt = new Date().toISOString();
  const total = values.length * repeat;
  log(
    `sweep ${knob.key} over ${values.join(', ')} × ${repeat} with the ${bench} bench (${appliedBy}; ${benchArgs.join(' ')}), ${total} runs, commit ${commit.slice(0, 10)}${dirty ? ' + uncommitted changes' : ''}`,
  );

  const runs: SweepRun[] = [];
  const t0 = performance.now();
  for (let r = 1; r <= repeat; r++) {
    for (const value of values) {
      const n = runs.length + 1;
      const eta = runs.length ? ` (about ${Math.round((((performance.now() - t0) / runs.length) * (total - runs.length + 1)) / 1000)} s left)` : '';
      log(`\n[${n}/${total}] ${knob.key} = ${value}, repeat ${r}/${repeat}${eta}`);
      const args = [...benchArgs, ...(application.args?.(value) ?? [])];
      const env = application.env ? { ...process.env, [application.env]: String(value) } : process.env;
      const loadAvg1 = Number(loadavg()[0]!.toFixed(2));
      const runStart = new Date().toISOString();
      const tr = performance.now();
      const result = await runBench(bench, args, env, timeoutS);
      const effective = application.effective(result);
      if (effective !== value) {
        throw new ConfigError(`${knob.key} = ${value} did not take effect: the ${bench} bench reports it ran with ${JSON.stringify(effective)}`);
      }
      const summary = summarize(bench, result);
      runs.push({ value, repeat: r, startedAt: runStart, seconds: Math.round((performance.now() - tr) / 100) / 10, loadAvg1, effective, summary, result });
      log(
        `[${n}/${total}] ${knob.key} = ${value}: ${fmt(summary.tps)} tx/s beside a same-run ceiling of ${fmt(summary.ceilingTps)} (ratio ${summary.ratio.toFixed(3)}), P50/P95/P99 ${summary.latencyMs.p50}/${summary.latencyMs.p95}/${summary.latencyMs.p99} ms at ${summary.latencyAt}, load ${loadAvg1}`,
      );
    }
  }
  const file: SweepFile = {
    format: SWEEP_FORMAT,
    knob: knob.key,
    bench,
    appliedBy,
    values,
    repeat,
    command,
    benchArgs,
    commit,
    dirty,
    startedAt,
    finishedAt: new Date().toISOString(),
    machine,
    runs,
  };
  SweepFileSchema.parse(file); // what the renderer will read: refuse to write a file it would refuse
  mkdirSync(dirname(outPath), { recursive: true });
  writeFileSync(`${outPath}.tmp`, `${JSON.stringify(file, null, 2)}\n`);
  renameSync(`${outPath}.tmp`, outPath);

  process.stdout.write(`\n${knob.key} with the ${bench} bench, ${repeat} run(s) per value, medians:\n`);
  for (const v of values) {
    const rs = runs.filter((x) => x.value === v).map((x) => x.summary);
    process.stdout.write(
      `  ${String(v).padStart(8)}  ${fmt(median(rs.map((s) => s.tps))).padStart(8)} tx/s  ceiling ${fmt(median(rs.map((s) => s.ceilingTps))).padStart(8)}  ratio ${pct(median(rs.map((s) => s.ratio))).padStart(7)}  P99 ${median(rs.map((s) => s.latencyMs.p99))} ms\n`,
    );
  }
  process.stdout.write(`wrote ${relative(process.cwd(), outPath) || outPath}\n`);
}

main().catch((e: unknown) => {
  log(`error: ${(e as Error).message ?? String(e)}`);
  process.exit(e instanceof HotledgerError && e.code === 'CONFIG_INVALID' ? 2 : 1);
});
