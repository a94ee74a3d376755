import { readFileSync, existsSync } from 'node:fs';
import { join, isAbsolute, resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import { ConfigError } from '../errors.js';
import { ConfigSchema, type Config } from './schema.js';
import { ENV_KEYS } from './env.js';
import { projectRoot } from '../runtime/module-path.js';

export { ENV_KEYS } from './env.js';

const envOfPath = new Map(Object.entries(ENV_KEYS).map(([env, { path }]) => [path, env]));

export interface LoadOptions {
  /** Named profile from config/profiles/<name>.json, merged over config/default.json. */
  profile?: string;
  /** Extra config file merged last (before env and overrides). */
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Programmatic overrides (tests, CLI flags), merged after the environment. */
  overrides?: Record<string, unknown>;
  configDir?: string;
}

type Json = Record<string, unknown>;

export function deepMerge(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(over)) {
    // JSON.parse makes "__proto__" an own key; assigning it would replace the prototype of `out`.
    if (v === undefined || k === '__proto__') continue;
    const b = out[k];
    out[k] = isPlainObject(v) && isPlainObject(b) ? deepMerge(b, v) : v;
  }
  return out;
}

function isPlainObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function setPath(obj: Json, path: string, value: unknown): void {
  const parts = path.split('.');
  let cur = obj;
  for (const p of parts.slice(0, -1)) {
    if (!isPlainObject(cur[p])) cur[p] = {};
    cur = cur[p] as Json;
  }
  cur[parts[parts.length - 1]!] = value;
}

function readJson(path: string): Json {
  try {
    const v = JSON.parse(readFileSync(path, 'utf8')) as unknown;
    if (!isPlainObject(v)) throw new Error('top level must be an object');
    return v;
  } catch (e) {
    throw new ConfigError(`config file ${path}: ${(e as Error).message}`);
  }
}

export function loadConfig(opts: LoadOptions = {}): Config {
  const env = opts.env ?? process.env;
  const dir = opts.configDir ?? join(projectRoot(), 'config');
  let raw: Json = readJson(join(dir, 'default.json'));
  const profile = opts.profile ?? env.HOTLEDGER_PROFILE;
  if (profile) {
    if (!/^[a-z0-9-]+$/.test(profile)) throw new ConfigError(`profile "${profile}": names are lowercase letters, digits and dashes`);
    const p = join(dir, 'profiles', `${profile}.json`);
    if (!existsSync(p)) throw new ConfigError(`profile "${profile}" not found (looked for ${p})`);
    raw = deepMerge(raw, readJson(p));
  }
  if (opts.file) raw = deepMerge(raw, readJson(opts.file));
  /** Config keys whose value came from the environment, with the raw text: named in errors. */
  const fromEnv = new Map<string, string>();
  for (const [name, { path, kind }] of Object.entries(ENV_KEYS)) {
    const v = env[name];
    if (v === undefined || v === '') continue;
    fromEnv.set(path, v);
    // A numeric variable that is not a plain decimal integer stays a string, so the schema rejects
    // it with the allowed range (HOTLEDGER_THREADS=auto is the one string the loader resolves).
    const n = Number(v);
    if (kind === 'list')
      setPath(
        raw,
        path,
        v
          .split(',')
          .map((x) => x.trim())
          .filter((x) => x !== ''),
      );
    else setPath(raw, path, kind === 'integer' && /^-?\d+$/.test(v.trim()) && Number.isSafeInteger(n) ? n : v);
  }
  if (opts.overrides) {
    raw = deepMerge(raw, opts.overrides);
    // An override replaces whatever the environment said.
    for (const path of [...fromEnv.keys()]) if (hasPath(opts.overrides, path)) fromEnv.delete(path);
  }
  const pipeline = (raw.pipeline ?? {}) as Json;
  if (pipeline.threads === undefined || pipeline.threads === 'auto') setPath(raw, 'pipeline.threads', Math.min(MAX_AUTO_THREADS, Math.max(1, availableParallelism())));
  return validate(raw, fromEnv);
}

/** Upper bound of pipeline.threads in the schema; `auto` never picks more on a big machine. */
const MAX_AUTO_THREADS = 64;

function hasPath(obj: Json, path: string): boolean {
  let cur: unknown = obj;
  for (const p of path.split('.')) {
    if (!isPlainObject(cur) || !Object.hasOwn(cur, p)) return false;
    cur = cur[p];
  }
  return cur !== undefined;
}

export function validateConfig(raw: unknown): Config {
  return validate(raw, new Map());
}

function validate(raw: unknown, fromEnv: ReadonlyMap<string, string>): Config {
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => {
      const key = i.path.join('.');
      const envValue = fromEnv.get(key);
      const source = envValue !== undefined ? ` (set by env ${envOfPath.get(key)}=${JSON.stringify(envValue)})` : '';
      return `config key ${key}${source}: ${i.message}`;
    });
    const keys = parsed.error.issues.map((i) => i.path.join('.'));
    throw new ConfigError(lines.join('\n'), { keys, issues: parsed.error.issues });
  }
  const cfg = parsed.data;
  if (!isAbsolute(cfg.node.dataDir)) cfg.node.dataDir = resolve(projectRoot(), cfg.node.dataDir);
  return cfg;
}
