import type { z } from 'zod';
import { ConfigSchema } from './schema.js';

export type EnvKind = 'integer' | 'string' | 'list';

export interface EnvKey {
  path: string;
  /** Integers are parsed; a list is comma-separated. */
  kind: EnvKind;
}

/**
 * Names that predate the derivation rule and are in deployments, scripts and docs: kept as the one
 * variable of their key. Every other key's variable is derived from the schema (below).
 */
const ESTABLISHED: Record<string, string> = {
  'node.role': 'HOTLEDGER_ROLE',
  'node.dataDir': 'HOTLEDGER_DATA_DIR',
  'node.keyFile': 'HOTLEDGER_KEY_FILE',
  'chain.chainId': 'HOTLEDGER_CHAIN_ID',
  'pipeline.threads': 'HOTLEDGER_THREADS',
  'pipeline.batchSize': 'HOTLEDGER_BATCH_SIZE',
  'pipeline.batchTimeoutMs': 'HOTLEDGER_BATCH_TIMEOUT_MS',
  'pipeline.chunkSize': 'HOTLEDGER_CHUNK_SIZE',
  'storage.cacheSizeMb': 'HOTLEDGER_CACHE_SIZE_MB',
  'consensus.heartbeatMs': 'HOTLEDGER_HEARTBEAT_MS',
  'api.host': 'HOTLEDGER_HOST',
  'api.port': 'HOTLEDGER_PORT',
  'api.maxBodyBytes': 'HOTLEDGER_MAX_BODY_BYTES',
};

/** `consensus.maxPeerBatchMb` → `HOTLEDGER_CONSENSUS_MAX_PEER_BATCH_MB` */
export function derivedEnvName(path: string): string {
  return `HOTLEDGER_${path
    .split('.')
    .map((p) => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase())
    .join('_')}`;
}

type AnySchema = z.core.$ZodType;

function def(s: AnySchema): { type: string; [k: string]: unknown } {
  return (s as unknown as { _zod: { def: { type: string } } })._zod.def;
}

/** The schema under wrappers that do not change what a value is (defaults, optionals, pipes). */
function unwrap(s: AnySchema): AnySchema {
  for (;;) {
    const d = def(s);
    if (d.type === 'default' || d.type === 'optional' || d.type === 'prefault' || d.type === 'nullable') s = d.innerType as AnySchema;
    else if (d.type === 'pipe') s = d.in as AnySchema;
    else return s;
  }
}

function kindOf(s: AnySchema): EnvKind | undefined {
  const t = def(unwrap(s)).type;
  if (t === 'number') return 'integer';
  if (t === 'string' || t === 'enum') return 'string';
  if (t === 'array') return kindOf(def(unwrap(s)).element as AnySchema) === 'string' ? 'list' : undefined;
  return undefined;
}

/**
 * Environment variable → config key, for every key that has a scalar (or list of strings) value,
 * walked from the schema itself: a key added to the schema gets its variable with no second list to
 * keep in step. Lists of objects (genesis accounts, validators) are set in files only.
 */
export function envKeysOf(schema: AnySchema): Record<string, EnvKey> {
  const out: Record<string, EnvKey> = {};
  const walk = (s: AnySchema, prefix: string): void => {
    const u = unwrap(s);
    const d = def(u);
    if (d.type === 'object') {
      for (const [k, v] of Object.entries(d.shape as Record<string, AnySchema>)) walk(v, prefix ? `${prefix}.${k}` : k);
      return;
    }
    const kind = kindOf(u);
    if (kind === undefined) return;
    out[ESTABLISHED[prefix] ?? derivedEnvName(prefix)] = { path: prefix, kind };
  };
  walk(schema, '');
  return out;
}

export const ENV_KEYS: Record<string, EnvKey> = envKeysOf(ConfigSchema);
