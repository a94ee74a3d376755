import { ConfigError } from '../src/errors.js';
import { ENV_KEYS } from '../src/config/env.js';

/** The benches a sweep runs as a child process (their `--json` result is what a sweep records). */
export const SWEEP_BENCHES = ['engine', 'cluster'] as const;
export type SweepBench = (typeof SWEEP_BENCHES)[number];

/** How one bench applies one knob's value, and where its JSON result says what the node really ran with. */
interface Application {
  args?: (value: number) => string[];
  /** A HOTLEDGER_* variable: the bench's node loads its config with the environment (src/config/env.ts). */
  env?: string;
  /** The value the bench reports it ran with, read from its JSON result; undefined when it does not say. */
  effective: (result: BenchResult) => unknown;
}

export type BenchResult = Record<string, unknown>;

export interface Knob {
  /** The config key (or `nodesPerProcess`, a cluster layout, not a node's config). */
  key: string;
  /** Other spellings accepted by --knob. */
  aliases: string[];
  min: number;
  max: number;
  /** The bench that shows the knob's effect, used unless --bench says otherwise. */
  bench: SweepBench;
  apply: Partial<Record<SweepBench, Application>>;
  /** One line for the guide and --help: what the value changes. */
  about: string;
}

const at = (result: BenchResult, path: string): unknown =>
  path.split('.').reduce<unknown>((o, k) => (o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined), result);

/** The HOTLEDGER_* variable of a config key, from the same derivation the loader uses. */
function envOf(path: string): string {
  const name = Object.entries(ENV_KEYS).find(([, k]) => k.path === path)?.[0];
  if (!name) throw new Error(`no HOTLEDGER_* variable for ${path}`);
  return name;
}

const flag = (name: string) => (v: number) => [name, String(v)];

/**
 * Every knob the guide sweeps. The engine bench overrides pipeline.threads, batchTimeoutMs and
 * maxInflightBatches from its own flags (a HOTLEDGER_THREADS would be overridden there), so those
 * go through the flags; batchSize and cacheSizeMb have no flag and go through the environment.
 */
export const KNOBS: Knob[] = [
  {
    key: 'pipeline.threads',
    aliases: ['threads'],
    min: 1,
    max: 64,
    bench: 'engine',
    about: 'verify and execution worker threads',
    apply: {
      engine: { args: flag('--threads'), effective: (r) => at(r, 'settings.pipeline.threads') },
      cluster: { args: flag('--threads'), effective: (r) => at(r, 'nodeConfig.threads') },
    },
  },
  {
    key: 'pipeline.batchSize',
    aliases: ['batchSize'],
    min: 1,
    max: 100_000,
    bench: 'engine',
    about: 'largest batch the mempool seals',
    apply: {
      engine: { env: envOf('pipeline.batchSize'), effective: (r) => at(r, 'settings.pipeline.batchSize') },
      cluster: { args: flag('--max-batch'), effective: (r) => at(r, 'nodeConfig.batchSize') },
    },
  },
  {
    key: 'pipeline.batchTimeoutMs',
    aliases: ['batchTimeoutMs'],
    min: 1,
    max: 10_000,
    bench: 'engine',
    about: 'how long a partial batch waits before it is sealed',
    apply: {
      engine: { args: flag('--batch-timeout-ms'), effective: (r) => at(r, 'settings.pipeline.batchTimeoutMs') },
      cluster: { args: flag('--batch-timeout-ms'), effective: (r) => at(r, 'nodeConfig.batchTimeoutMs') },
    },
  },
  {
    key: 'pipeline.maxInflightBatches',
    aliases: ['maxInflightBatches'],
    min: 1,
    max: 64,
    bench: 'engine',
    about: 'batches sealed but not yet durable before the batcher waits',
    apply: {
      engine: { args: flag('--max-inflight'), effective: (r) => at(r, 'settings.pipeline.maxInflightBatches') },
      // /api/v11/info does not list it: the bench's own record of what it wrote into every node.json.
      cluster: { args: flag('--max-inflight'), effective: (r) => at(r, 'maxInflightBatches') },
    },
  },
  {
    key: 'storage.cacheSizeMb',
    aliases: ['cacheSizeMb'],
    min: 1,
    max: 65_536,
    bench: 'engine',
    about: 'LMDB account cache of the ledger thread',
    apply: { engine: { env: envOf('storage.cacheSizeMb'), effective: (r) => at(r, 'settings.storage.cacheSizeMb') } },
  },
  {
    key: 'consensus.timeoutMs',
    aliases: ['timeoutMs'],
    min: 50,
    max: 60_000,
    bench: 'cluster',
    about: 'round timeout before a view change',
    apply: { cluster: { args: flag('--timeout-ms'), effective: (r) => at(r, 'nodeConfig.consensusTimeoutMs') } },
  },
  {
    key: 'consensus.heartbeatMs',
    aliases: ['heartbeatMs'],
    min: 10,
    max: 59_999,
    bench: 'cluster',
    about: 'empty block carrying a QC after this idle time',
    apply: { cluster: { args: flag('--heartbeat-ms'), effective: (r) => at(r, 'nodeConfig.heartbeatMs') } },
  },
  {
    key: 'nodesPerProcess',
    aliases: ['perProcess', 'per-process'],
    min: 1,
    max: 64,
    bench: 'cluster',
    about: 'logical validator nodes per OS process (hotledger host)',
    // The grouping the cluster planned: the first validator process holds `value` nodes.
    apply: { cluster: { args: flag('--per-process'), effective: (r) => (at(r, 'grouping.validator') as number[] | undefined)?.[0] } },
  },
];

const knobNames = () => KNOBS.map((k) => k.key).join(', ');

/** The knob named by --knob (its key or an alias), or a ConfigError naming the allowed ones. */
export function findKnob(name: string): Knob {
  const k = KNOBS.find((k) => k.key === name || k.aliases.includes(name));
  if (!k) throw new ConfigError(`--knob ${JSON.stringify(name)} is not a knob the sweep can apply; allowed: ${knobNames()}`, { keys: ['knob'] });
  return k;
}

/** How `bench` applies `knob`, or a ConfigError saying which benches can. */
export function applicationOf(knob: Knob, bench: SweepBench): Application {
  const a = knob.apply[bench];
  if (!a) {
    const can = Object.keys(knob.apply).join(', ');
    const others = KNOBS.filter((k) => k.apply[bench])
      .map((k) => k.key)
      .join(', ');
    throw new ConfigError(`--knob ${knob.key} cannot be applied by the ${bench} bench (it can by: ${can}); the ${bench} bench applies: ${others}`, { keys: ['knob', 'bench'] });
  }
  return a;
}

/** The comma list of --values, each an integer in the knob's range; a ConfigError otherwise. */
export function parseValues(knob: Knob, list: string): number[] {
  const raw = list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (raw.length === 0) throw new ConfigError(`--values: at least one value of ${knob.key} is needed`, { keys: ['values'] });
  const values = raw.map((s) => {
    const n = Number(s);
    if (!/^\d+$/.test(s) || !Number.isSafeInteger(n) || n < knob.min || n > knob.max) {
      throw new ConfigError(`--values: ${knob.key} must be an integer from ${knob.min} to ${knob.max} (got ${JSON.stringify(s)})`, { keys: ['values'] });
    }
    return n;
  });
  if (new Set(values).size !== values.length) throw new ConfigError(`--values: ${knob.key} values must differ (got ${list})`, { keys: ['values'] });
  return values;
}
