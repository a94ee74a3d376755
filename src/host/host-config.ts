import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { loadConfig } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { ConfigError, HotledgerError } from '../errors.js';

/** Logical nodes one process may host: each costs a ledger thread, LMDB environments and sockets. */
export const MAX_HOSTED_NODES = 64;

function int(min: number, max: number) {
  const error = `must be an integer from ${min} to ${max}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
}

export const HostConfigSchema = z
  .object({
    /** Profile under every node's config (config/profiles/<name>.json), as `hotledger start --profile`. */
    profile: z
      .string()
      .regex(/^[a-z0-9-]+$/, { error: 'must be lowercase letters, digits and dashes' })
      .optional(),
    /** The one verify pool of the process: its threads are the whole verification budget of all nodes. */
    verify: z
      .object({
        threads: int(1, 64).default(1),
        /** Transactions per verification task sent to the pool. */
        chunkSize: int(64, 100_000).default(4096),
        /** Verdicts of recent peer batches kept, so a node that asks late does not verify again. */
        cacheBatches: int(0, 65_536).default(1024),
      })
      .strict()
      .prefault({}),
    /** Each entry: a node config file (relative to host.json) or an inline node config object. */
    nodes: z
      .array(z.union([z.string().min(1), z.record(z.string(), z.unknown())], { error: 'must be a config file path or a config object' }))
      .min(1, { error: 'must list at least one node' })
      .max(MAX_HOSTED_NODES, { error: `must list at most ${MAX_HOSTED_NODES} nodes` }),
  })
  .strict();

export type HostConfig = z.infer<typeof HostConfigSchema>;

export interface HostPlan {
  host: HostConfig;
  /** Each node's full config, in host.json order. */
  nodes: Config[];
}

/** Reads, validates and checks a host.json; every error names the key (`nodes[2].api.port`, `verify.threads`). */
export function loadHostConfig(file: string, env: NodeJS.ProcessEnv = process.env): HostPlan {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(`host config ${file}: ${(e as Error).message}`);
  }
  return planHost(raw, dirname(resolve(file)), env, file);
}

export function planHost(raw: unknown, baseDir: string, env: NodeJS.ProcessEnv = process.env, source = 'host config'): HostPlan {
  const parsed = HostConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const keys = parsed.error.issues.map((i) => keyOf(i.path));
    const lines = parsed.error.issues.map((i) => `${source}: key ${keyOf(i.path)}: ${i.message}`);
    throw new ConfigError(lines.join('\n'), { keys });
  }
  const host = parsed.data;
  const nodes = host.nodes.map((entry, i) => {
    try {
      return typeof entry === 'string' ? loadConfig({ profile: host.profile, file: resolve(baseDir, entry), env }) : loadConfig({ profile: host.profile, overrides: entry, env });
    } catch (e) {
      if (e instanceof HotledgerError) throw new ConfigError(`${source}: nodes[${i}]${typeof entry === 'string' ? ` (${entry})` : ''}: ${e.message}`, e.details);
      throw e;
    }
  });
  refuseSharedResources(nodes, source);
  return { host, nodes };
}

function keyOf(path: readonly PropertyKey[]): string {
  return path.map((p, k) => (typeof p === 'number' ? `[${p}]` : `${k === 0 ? '' : '.'}${String(p)}`)).join('');
}

/**
 * Two nodes of one process must not share a data dir (one LMDB environment, one lock: the second
 * would corrupt or be refused mid-start), a listening port, or an identity (two signers of one
 * member key equivocate). Checked before anything starts.
 */
function refuseSharedResources(nodes: readonly Config[], source: string): void {
  const seen = new Map<string, number>();
  const claim = (what: string, value: string, i: number, key: string) => {
    const first = seen.get(`${what}\0${value}`);
    if (first !== undefined) {
      throw new ConfigError(`${source}: key nodes[${i}].${key}: ${value} is already used by nodes[${first}] (each hosted node needs its own ${what})`, {
        keys: [`nodes[${i}].${key}`],
      });
    }
    seen.set(`${what}\0${value}`, i);
  };
  nodes.forEach((c, i) => {
    claim('node id', c.node.id, i, 'node.id');
    claim('data dir', resolve(c.node.dataDir!), i, 'node.dataDir');
    // By number alone (0.0.0.0 and 127.0.0.1 on one port clash too); 0 asks the OS for a free one.
    if (c.api.port !== 0) claim('port', String(c.api.port), i, 'api.port');
    // A business or slim node's consensus.followers entry is its peer address and identity, as a validator's is.
    for (const list of ['validators', 'followers'] as const) {
      const at = c.consensus[list].findIndex((v) => v.id === c.node.id);
      if (at < 0) continue;
      const me = c.consensus[list][at]!;
      claim('port', String(me.port), i, `consensus.${list}[${at}].port`);
      claim('member identity', me.publicKey.toLowerCase(), i, `consensus.${list}[${at}].publicKey`);
    }
  });
}
