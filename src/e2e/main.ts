/**
 * `npm run e2e -- --topology option-b | --validators N --business M --slim K --per-process P
 *                 [--txs 10000] [--sample 200] [--senders 256] [--failover-txs 2000] [--json FILE]
 *                 [--dir D] [--keep] [--threads T] [--timeout-ms MS] [--ready-timeout-ms MS]`
 *
 * Prints one row per category (connectivity, api, transactions, failover, consistency,
 * performance) and exits 1 when any category fails. See docs/e2e.md.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { TOPOLOGY_PRESET_NAMES, type TopologyPreset } from '../cluster/topology.js';
import { ConfigError } from '../errors.js';
import { formatTable } from './checks.js';
import { type E2eOptions, runE2e } from './runner.js';

const { values: a } = parseArgs({
  options: {
    topology: { type: 'string' },
    validators: { type: 'string' },
    business: { type: 'string' },
    slim: { type: 'string' },
    'per-process': { type: 'string' },
    txs: { type: 'string', default: '10000' },
    sample: { type: 'string', default: '200' },
    senders: { type: 'string', default: '256' },
    'failover-txs': { type: 'string', default: '2000' },
    threads: { type: 'string', default: '1' },
    'timeout-ms': { type: 'string', default: '1000' },
    'ready-timeout-ms': { type: 'string', default: '120000' },
    'log-level': { type: 'string', default: 'warn' },
    json: { type: 'string' },
    dir: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
  allowPositionals: false,
});

function int(name: keyof typeof a, min: number, max: number): number | undefined {
  const raw = a[name];
  if (raw === undefined) return undefined;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max) throw new ConfigError(`--${name} must be an integer in ${min}..${max} (got ${JSON.stringify(raw)})`, { key: name });
  return v;
}

function options(): E2eOptions {
  const counts = (['validators', 'business', 'slim', 'per-process'] as const).filter((k) => a[k] !== undefined);
  if (a.topology !== undefined) {
    if (!TOPOLOGY_PRESET_NAMES.includes(a.topology as TopologyPreset))
      throw new ConfigError(`--topology must be one of ${TOPOLOGY_PRESET_NAMES.join(', ')} (got ${JSON.stringify(a.topology)})`, { key: 'topology' });
    if (counts.length > 0) throw new ConfigError(`--topology fixes the node counts: drop --${counts.join(', --')}`, { key: 'topology' });
  }
  return {
    ...(a.topology !== undefined && { topology: a.topology as TopologyPreset }),
    validators: int('validators', 1, 100) ?? 4,
    business: int('business', 0, 100) ?? 0,
    slim: int('slim', 0, 100) ?? 0,
    perProcess: int('per-process', 1, 64) ?? 1,
    txs: int('txs', 1, 1_000_000)!,
    sample: int('sample', 0, 100_000)!,
    senders: int('senders', 1, 10_000)!,
    failoverTxs: int('failover-txs', 1, 1_000_000)!,
    threads: int('threads', 1, 64)!,
    timeoutMs: int('timeout-ms', 50, 60_000)!,
    readyTimeoutMs: int('ready-timeout-ms', 1_000, 600_000)!,
    logLevel: a['log-level']!,
    ...(a.dir !== undefined && { dir: a.dir }),
    keep: a.keep!,
  };
}

async function main(): Promise<number> {
  const report = await runE2e(options());
  const t = report.topology;
  process.stdout.write(
    `\nhotledger e2e: ${t.preset ?? 'custom'}: ${t.validators} validators, ${t.business} business, ${t.slim} slim in ${t.processes} processes; ${report.machine.cpus} cpus, Node ${report.machine.node}, ${report.when}\n`,
  );
  process.stdout.write(`${formatTable(report.results)}\n`);
  process.stdout.write(`${report.pass ? 'PASS' : 'FAIL'}: ${report.results.filter((r) => r.pass).length}/${report.results.length} categories in ${report.seconds} s\n`);
  for (const r of report.results.filter((x) => !x.pass)) process.stdout.write(`\n${r.category} failed:\n  ${r.failures.join('\n  ')}\n`);
  if (report.unexpectedExits.length > 0) process.stdout.write(`\nunexpected process exits:\n${report.unexpectedExits.join('\n')}\n`);
  if (a.json) {
    writeFileSync(a.json, `${JSON.stringify(report, null, 2)}\n`);
    process.stdout.write(`wrote ${a.json}\n`);
  }
  return report.pass ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`error: ${(e as Error).message ?? String(e)}\n`);
    process.exit(2);
  },
);
