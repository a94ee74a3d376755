import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync, readdirSync, readFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir, availableParallelism } from 'node:os';
import { ENV_KEYS, loadConfig, validateConfig, deepMerge, type LoadOptions } from '../../src/config/load.js';
import { derivedEnvName } from '../../src/config/env.js';
import type { Config } from '../../src/config/schema.js';
import { projectRoot } from '../../src/runtime/module-path.js';
import { ConfigError, HotledgerError } from '../../src/errors.js';
import { MAX_AMOUNT } from '../../src/tx/layout.js';

const ROOT = projectRoot();
const CONFIG_DIR = join(ROOT, 'config');
const AUTO_THREADS = Math.min(64, Math.max(1, availableParallelism()));

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'hotledger-config-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

/** Every call passes an explicit env, so the machine's environment never leaks in. */
const load = (opts: LoadOptions = {}): Config => loadConfig({ env: {}, ...opts });

function configError(f: () => unknown): ConfigError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect(e).toBeInstanceOf(HotledgerError);
    expect((e as ConfigError).code).toBe('CONFIG_INVALID');
    expect((e as ConfigError).name).toBe('ConfigError');
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError, got a config');
}

function writeJson(name: string, body: unknown): string {
  const p = join(tmp, name);
  writeFileSync(p, typeof body === 'string' ? body : JSON.stringify(body));
  return p;
}

function get(obj: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], obj);
}

describe('defaults (config/default.json + schema)', () => {
  it('loads the documented defaults', () => {
    const c = load();
    expect(c).toEqual({
      node: { id: 'node-0', role: 'validator', dataDir: join(ROOT, 'data/node-0') },
      chain: { chainId: 1, genesis: { accounts: [], devnetAccounts: 0, devnetBalance: 1_000_000_000 } },
      pipeline: { threads: AUTO_THREADS, batchSize: 100_000, batchTimeoutMs: 20, chunkSize: 4096, executionShards: 0, maxInflightBatches: 4 },
      mempool: { capacity: 1_000_000, maxPerSender: 10_000, maxNonceGap: 100_000, maxUnverified: 200_000 },
      storage: { cacheSizeMb: 256, mapSizeMb: 65_536 },
      consensus: {
        timeoutMs: 1000,
        heartbeatMs: 250,
        retainCommitted: 1000,
        maxPeerBatches: 64,
        maxPeerBatchMb: 128,
        peerRequestsPerSec: 50,
        peerMessagesPerSec: 2000,
        storeRetainBlocks: 1_000_000,
        validators: [],
        followers: [],
      },
      api: {
        host: '127.0.0.1',
        port: 9003,
        maxBodyBytes: 33_554_432,
        wsMaxBackpressureBytes: 4_194_304,
        rateLimitPerSec: 1000,
        rateLimitBurst: 2000,
        txRateLimitPerSec: 100_000,
        txRateLimitBurst: 200_000,
        healthRateLimitPerSec: 100,
        maxConcurrentBodies: 256,
        maxConcurrentBodiesPerAddress: 32,
        maxBufferedBodyBytes: 268_435_456,
        bodyTimeoutMs: 30_000,
        maxJsonTxs: 100_000,
        wsMaxConnections: 10_000,
        wsMaxConnectionsPerAddress: 64,
        wsMaxWatchedIds: 10_000,
        wsMaxRefusals: 32,
        wsAllowedOrigins: [],
      },
      network: { handshakeTimeoutMs: 2000, maxPendingHandshakes: 64, maxPendingPerAddress: 8, maxFrameBytes: 67_108_864 },
      log: { level: 'info' },
    });
  });

  it('the default node.dataDir is data/<node.id>, made safe; an explicit one is kept', () => {
    expect(load({ overrides: { node: { id: 'v1' } } }).node.dataDir).toBe(join(ROOT, 'data/v1'));
    expect(load({ overrides: { node: { id: 'v2' } } }).node.dataDir).toBe(join(ROOT, 'data/v2'));
    expect(load({ overrides: { node: { id: '../x y' } } }).node.dataDir).toBe(join(ROOT, 'data/.._x_y'));
    expect(load({ overrides: { node: { id: '..' } } }).node.dataDir).toBe(join(ROOT, 'data/__'));
    expect(load({ overrides: { node: { id: 'v1', dataDir: '/srv/ledger' } } }).node.dataDir).toBe('/srv/ledger');
  });

  it('schema defaults fill keys that default.json leaves out', () => {
    const dir = join(tmp, 'sparse');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'default.json'), JSON.stringify({ node: {}, chain: {}, pipeline: {}, mempool: {}, storage: {}, consensus: {}, api: {}, log: {} }));
    const c = load({ configDir: dir });
    const full = load();
    expect(c).toEqual(full);
  });

  it('validateConfig alone does not resolve threads: "auto" is the loader’s job', () => {
    const e = configError(() => validateConfig(JSON.parse(readFileSync(join(CONFIG_DIR, 'default.json'), 'utf8'))));
    expect(e.message).toContain('pipeline.threads');
    expect(e.message).toContain('from 1 to 64');
  });

  it('a relative node.dataDir resolves against the project root, an absolute one is kept', () => {
    expect(load({ overrides: { node: { dataDir: 'x/y' } } }).node.dataDir).toBe(join(ROOT, 'x/y'));
    expect(load({ overrides: { node: { dataDir: '/var/lib/hotledger' } } }).node.dataDir).toBe('/var/lib/hotledger');
  });
});

describe('profiles (config/profiles/*.json)', () => {
  const profiles = readdirSync(join(CONFIG_DIR, 'profiles'))
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -5))
    .sort();

  it('are bench, devnet and test', () => {
    expect(profiles).toEqual(['bench', 'devnet', 'test']);
  });

  for (const name of profiles) {
    it(`${name}: every key the profile sets wins over default.json`, () => {
      const c = load({ profile: name });
      const prof = JSON.parse(readFileSync(join(CONFIG_DIR, 'profiles', `${name}.json`), 'utf8')) as Record<string, unknown>;
      const walk = (o: Record<string, unknown>, prefix: string): void => {
        for (const [k, v] of Object.entries(o)) {
          const path = prefix ? `${prefix}.${k}` : k;
          if (v !== null && typeof v === 'object' && !Array.isArray(v)) walk(v as Record<string, unknown>, path);
          else if (path === 'node.dataDir') expect(c.node.dataDir).toBe(join(ROOT, v as string));
          else expect(get(c, path), path).toEqual(v);
        }
      };
      walk(prof, '');
    });
  }

  it('bench', () => {
    const c = load({ profile: 'bench' });
    expect(c.node.id).toBe('bench-0');
    expect(c.node.dataDir).toBe(join(ROOT, 'data/bench'));
    expect(c.chain.chainId).toBe(7);
    expect(c.pipeline.threads).toBe(AUTO_THREADS);
    expect(c.log.level).toBe('warn');
    expect(c.consensus.timeoutMs).toBe(1000); // untouched keys keep the default
  });

  it('devnet', () => {
    const c = load({ profile: 'devnet' });
    expect(c.node.id).toBe('devnet-0');
    expect(c.chain.chainId).toBe(1337);
    expect(c.chain.genesis).toEqual({ accounts: [], devnetAccounts: 8, devnetBalance: 1_000_000_000_000 });
    expect(c.pipeline.batchTimeoutMs).toBe(10);
    expect(c.pipeline.batchSize).toBe(100_000);
  });

  it('test', () => {
    const c = load({ profile: 'test' });
    expect(c.node.id).toBe('test-0');
    // The default data dir follows node.id: two nodes of different ids never share one by default.
    expect(c.node.dataDir).toBe(join(ROOT, 'data/test-0'));
    expect(c.chain.chainId).toBe(99);
    expect(c.pipeline).toEqual({ threads: 2, batchSize: 1000, batchTimeoutMs: 5, chunkSize: 256, executionShards: 0, maxInflightBatches: 4 });
    expect(c.storage).toEqual({ cacheSizeMb: 16, mapSizeMb: 1024 });
    expect(c.api.port).toBe(0);
    expect(c.log.level).toBe('silent');
  });

  it('HOTLEDGER_PROFILE selects a profile; the profile option wins over it', () => {
    expect(load({ env: { HOTLEDGER_PROFILE: 'devnet' } }).chain.chainId).toBe(1337);
    expect(load({ env: { HOTLEDGER_PROFILE: 'devnet' }, profile: 'test' }).chain.chainId).toBe(99);
  });

  it('an unknown profile is a ConfigError naming it and the path looked at', () => {
    const e = configError(() => load({ profile: 'mainnet' }));
    expect(e.message).toContain('profile "mainnet" not found');
    expect(e.message).toContain(join(CONFIG_DIR, 'profiles', 'mainnet.json'));
    expect(configError(() => load({ env: { HOTLEDGER_PROFILE: 'nope' } })).message).toContain('"nope"');
  });

  it('profile names cannot escape the profiles folder', () => {
    for (const bad of ['../default', 'Test', 'a/b', 'x.json', 'dev net']) {
      expect(configError(() => load({ profile: bad })).message).toContain('lowercase letters, digits and dashes');
    }
  });
});

describe('environment variables', () => {
  it('every scalar key has exactly one variable, derived from the schema (established names kept)', () => {
    // Established names that predate the rule stay the variable of their key.
    for (const [name, path] of [
      ['HOTLEDGER_NODE_ID', 'node.id'],
      ['HOTLEDGER_ROLE', 'node.role'],
      ['HOTLEDGER_DATA_DIR', 'node.dataDir'],
      ['HOTLEDGER_KEY_FILE', 'node.keyFile'],
      ['HOTLEDGER_CHAIN_ID', 'chain.chainId'],
      ['HOTLEDGER_THREADS', 'pipeline.threads'],
      ['HOTLEDGER_BATCH_SIZE', 'pipeline.batchSize'],
      ['HOTLEDGER_BATCH_TIMEOUT_MS', 'pipeline.batchTimeoutMs'],
      ['HOTLEDGER_CHUNK_SIZE', 'pipeline.chunkSize'],
      ['HOTLEDGER_MEMPOOL_CAPACITY', 'mempool.capacity'],
      ['HOTLEDGER_CACHE_SIZE_MB', 'storage.cacheSizeMb'],
      ['HOTLEDGER_CONSENSUS_TIMEOUT_MS', 'consensus.timeoutMs'],
      ['HOTLEDGER_HEARTBEAT_MS', 'consensus.heartbeatMs'],
      ['HOTLEDGER_HOST', 'api.host'],
      ['HOTLEDGER_PORT', 'api.port'],
      ['HOTLEDGER_MAX_BODY_BYTES', 'api.maxBodyBytes'],
      ['HOTLEDGER_LOG_LEVEL', 'log.level'],
    ] as const)
      expect(ENV_KEYS[name]?.path, name).toBe(path);
    // Everything else follows the rule.
    expect(ENV_KEYS.HOTLEDGER_CONSENSUS_MAX_PEER_BATCH_MB).toEqual({ path: 'consensus.maxPeerBatchMb', kind: 'integer' });
    expect(ENV_KEYS.HOTLEDGER_API_WS_ALLOWED_ORIGINS).toEqual({ path: 'api.wsAllowedOrigins', kind: 'list' });
    expect(derivedEnvName('chain.genesis.devnetAccounts')).toBe('HOTLEDGER_CHAIN_GENESIS_DEVNET_ACCOUNTS');
    // One variable per key, and every scalar leaf of the loaded config has one.
    const paths = Object.values(ENV_KEYS).map((k) => k.path);
    expect(new Set(paths).size).toBe(paths.length);
    const leaves: string[] = [];
    const walk = (o: Record<string, unknown>, prefix: string): void => {
      for (const [k, v] of Object.entries(o)) {
        const path = prefix ? `${prefix}.${k}` : k;
        if (v !== null && typeof v === 'object' && !Array.isArray(v)) walk(v as Record<string, unknown>, path);
        else if (!['chain.genesis.accounts', 'consensus.validators', 'consensus.followers'].includes(path)) leaves.push(path); // lists of objects: files only
      }
    };
    walk(load() as unknown as Record<string, unknown>, '');
    for (const leaf of leaves) expect(paths, leaf).toContain(leaf);
  });

  it('every integer variable sets its key and names key and variable when the value is not allowed', () => {
    const defaults = load();
    for (const [name, { path, kind }] of Object.entries(ENV_KEYS)) {
      if (kind !== 'integer') continue;
      expect(get(load({ env: { [name]: String(get(defaults, path)) } }), path), name).toBe(get(defaults, path));
      const e = configError(() => load({ env: { [name]: 'x1' } }));
      expect(e.message, name).toContain(`config key ${path} (set by env ${name}="x1")`);
    }
  });

  it('a list variable is comma-separated', () => {
    const c = load({ env: { HOTLEDGER_API_WS_ALLOWED_ORIGINS: 'https://a.example, https://b.example:8443,' } });
    expect(c.api.wsAllowedOrigins).toEqual(['https://a.example', 'https://b.example:8443']);
  });

  it('string variables set their key', () => {
    const c = load({
      env: {
        HOTLEDGER_NODE_ID: 'validator-17',
        HOTLEDGER_ROLE: 'validator',
        HOTLEDGER_DATA_DIR: '/srv/hl/v17',
        HOTLEDGER_KEY_FILE: '/srv/hl/v17/key.json',
        HOTLEDGER_HOST: '0.0.0.0',
        HOTLEDGER_LOG_LEVEL: 'debug',
      },
    });
    expect(c.node).toEqual({ id: 'validator-17', role: 'validator', dataDir: '/srv/hl/v17', keyFile: '/srv/hl/v17/key.json' });
    expect(c.api.host).toBe('0.0.0.0');
    expect(c.log.level).toBe('debug');
  });

  /** [variable, key, min, max, companion env so that min/max are otherwise valid] */
  const numeric: [string, string, number, number, Record<string, string>][] = [
    ['HOTLEDGER_CHAIN_ID', 'chain.chainId', 1, 0xffffffff, {}],
    ['HOTLEDGER_THREADS', 'pipeline.threads', 1, 64, {}],
    ['HOTLEDGER_BATCH_SIZE', 'pipeline.batchSize', 1, 100_000, {}],
    ['HOTLEDGER_BATCH_TIMEOUT_MS', 'pipeline.batchTimeoutMs', 1, 10_000, {}],
    ['HOTLEDGER_CHUNK_SIZE', 'pipeline.chunkSize', 64, 100_000, {}],
    ['HOTLEDGER_MEMPOOL_CAPACITY', 'mempool.capacity', 1, 10_000_000, {}],
    ['HOTLEDGER_CACHE_SIZE_MB', 'storage.cacheSizeMb', 1, 65_536, {}],
    ['HOTLEDGER_CONSENSUS_TIMEOUT_MS', 'consensus.timeoutMs', 50, 600_000, { HOTLEDGER_HEARTBEAT_MS: '10' }],
    ['HOTLEDGER_HEARTBEAT_MS', 'consensus.heartbeatMs', 10, 60_000, { HOTLEDGER_CONSENSUS_TIMEOUT_MS: '600000' }],
    ['HOTLEDGER_PORT', 'api.port', 0, 65_535, {}],
    // The largest body must still fit the per-client transaction burst (a cross-check of the schema).
    ['HOTLEDGER_MAX_BODY_BYTES', 'api.maxBodyBytes', 1024, 256 * 1024 * 1024, { HOTLEDGER_API_TX_RATE_LIMIT_BURST: '2000000' }],
  ];

  for (const [name, key, min, max, companion] of numeric) {
    it(`${name} sets ${key}, accepts ${min}..${max}, and names key, variable and range outside it`, () => {
      expect(get(load({ env: { ...companion, [name]: String(min) } }), key)).toBe(min);
      expect(get(load({ env: { ...companion, [name]: String(max) } }), key)).toBe(max);
      expect(get(load({ env: { ...companion, [name]: ` ${min} ` } }), key)).toBe(min); // surrounding blanks are fine
      for (const bad of [min - 1, max + 1]) {
        const e = configError(() => load({ env: { ...companion, [name]: String(bad) } }));
        expect(e.message).toContain(`config key ${key}`);
        expect(e.message).toContain(`${name}="${bad}"`);
        expect(e.message).toContain(`from ${min} to ${max}`);
      }
    });
  }

  it('HOTLEDGER_THREADS=0 → pipeline.threads, the variable and "from 1 to 64"', () => {
    const e = configError(() => load({ env: { HOTLEDGER_THREADS: '0' } }));
    expect(e.message).toBe('config key pipeline.threads (set by env HOTLEDGER_THREADS="0"): must be an integer from 1 to 64');
    expect(e.details?.keys).toEqual(['pipeline.threads']);
  });

  it('non-numeric values of numeric variables are rejected with the key, variable, value and range', () => {
    for (const bad of ['abc', '1.5', '1e3', '0x10', '12abc', '--1', '9007199254740993', 'NaN', 'Infinity']) {
      const e = configError(() => load({ env: { HOTLEDGER_THREADS: bad } }));
      expect(e.message, bad).toContain('pipeline.threads');
      expect(e.message, bad).toContain(`HOTLEDGER_THREADS=${JSON.stringify(bad)}`);
      expect(e.message, bad).toContain('from 1 to 64');
    }
    const e = configError(() => load({ env: { HOTLEDGER_PORT: 'http' } }));
    expect(e.message).toContain('api.port');
    expect(e.message).toContain('from 0 to 65535');
  });

  it('HOTLEDGER_THREADS=auto picks the core count (at most 64)', () => {
    expect(load({ env: { HOTLEDGER_THREADS: 'auto' } }).pipeline.threads).toBe(AUTO_THREADS);
    expect(load({ profile: 'test', env: { HOTLEDGER_THREADS: 'auto' } }).pipeline.threads).toBe(AUTO_THREADS);
  });

  it('an empty variable counts as unset', () => {
    const c = load({ profile: 'test', env: { HOTLEDGER_THREADS: '', HOTLEDGER_LOG_LEVEL: '', HOTLEDGER_CHAIN_ID: '' } });
    expect(c.pipeline.threads).toBe(2);
    expect(c.log.level).toBe('silent');
    expect(c.chain.chainId).toBe(99);
  });

  it('invalid string values name the key, variable and allowed values', () => {
    let e = configError(() => load({ env: { HOTLEDGER_ROLE: 'king' } }));
    expect(e.message).toBe('config key node.role (set by env HOTLEDGER_ROLE="king"): must be one of validator, business, slim');
    // A role the node cannot fill is refused, not run as a validator: a follower needs a validator set that lists it among followers.
    e = configError(() => load({ env: { HOTLEDGER_ROLE: 'slim' } }));
    expect(e.message).toBe('config key node.role (set by env HOTLEDGER_ROLE="slim"): slim follows a validator set: consensus.validators must not be empty');
    const v = { id: 'v0', publicKey: 'ab'.repeat(32), port: 9100 };
    const f = { id: 'node-0', publicKey: 'cd'.repeat(32), port: 9101 };
    e = configError(() => load({ env: { HOTLEDGER_ROLE: 'business' }, overrides: { consensus: { validators: [v] } } }));
    expect(e.message).toContain('business: "node-0" must be listed in consensus.followers');
    e = configError(() => load({ env: { HOTLEDGER_ROLE: 'slim' }, overrides: { consensus: { validators: [{ ...v, id: 'node-0' }], followers: [{ ...f, id: 'f0' }] } } }));
    expect(e.message).toContain('slim, but "node-0" is listed in consensus.validators');
    e = configError(() => load({ overrides: { consensus: { validators: [v], followers: [f] } } }));
    expect(e.message).toContain('validator, but "node-0" is listed in consensus.followers');
    e = configError(() => load({ env: { HOTLEDGER_ROLE: 'slim' }, overrides: { consensus: { validators: [v], followers: [{ ...f, publicKey: v.publicKey }] } } }));
    expect(e.message).toContain('config key consensus.followers.0.publicKey: duplicate member public key');
    expect(load({ env: { HOTLEDGER_ROLE: 'slim' }, overrides: { consensus: { validators: [v], followers: [f] } } }).node.role).toBe('slim');
    e = configError(() => load({ env: { HOTLEDGER_LOG_LEVEL: 'loud' } }));
    expect(e.message).toBe('config key log.level (set by env HOTLEDGER_LOG_LEVEL="loud"): must be one of fatal, error, warn, info, debug, trace, silent');
    e = configError(() => load({ env: { HOTLEDGER_NODE_ID: 'n'.repeat(65) } }));
    expect(e.message).toContain('config key node.id (set by env HOTLEDGER_NODE_ID=');
  });

  it('unrelated variables are ignored', () => {
    expect(load({ env: { HOTLEDGER_NOPE: '1', PATH: '/bin', THREADS: '0' } }).pipeline.threads).toBe(AUTO_THREADS);
  });

  it('the default env is process.env', () => {
    const saved = process.env.HOTLEDGER_CHAIN_ID;
    process.env.HOTLEDGER_CHAIN_ID = '4242';
    try {
      expect(loadConfig({ profile: 'test' }).chain.chainId).toBe(4242);
    } finally {
      if (saved === undefined) delete process.env.HOTLEDGER_CHAIN_ID;
      else process.env.HOTLEDGER_CHAIN_ID = saved;
    }
  });
});

describe('precedence: default.json < profile < file < env < overrides', () => {
  it('each layer beats the one before it', () => {
    const file = writeJson('layer.json', { pipeline: { threads: 3 }, chain: { chainId: 300 }, log: { level: 'error' } });
    expect(load().pipeline.threads).toBe(AUTO_THREADS);
    expect(load({ profile: 'test' }).pipeline.threads).toBe(2);
    expect(load({ profile: 'test', file }).pipeline.threads).toBe(3);
    expect(load({ profile: 'test', file, env: { HOTLEDGER_THREADS: '4' } }).pipeline.threads).toBe(4);
    const all = load({ profile: 'test', file, env: { HOTLEDGER_THREADS: '4' }, overrides: { pipeline: { threads: 5 } } });
    expect(all.pipeline.threads).toBe(5);
    // Each layer only touches what it names: everything else comes from lower layers.
    expect(all.chain.chainId).toBe(300); // file
    expect(all.log.level).toBe('error'); // file over profile's 'silent'
    expect(all.pipeline.batchSize).toBe(1000); // profile
    expect(all.pipeline.maxInflightBatches).toBe(4); // default
  });

  it('objects merge deeply, arrays are replaced whole', () => {
    const pk = (b: string) => b.repeat(64);
    const file = writeJson('arrays.json', {
      consensus: {
        validators: [
          { id: 'v1', publicKey: pk('a'), port: 9101 },
          { id: 'v2', publicKey: pk('b'), port: 9102 },
        ],
      },
    });
    const c = load({ file, overrides: { consensus: { validators: [{ id: 'v3', publicKey: pk('c'), port: 9103 }] } } });
    expect(c.consensus.validators).toEqual([{ id: 'v3', publicKey: pk('c'), host: '127.0.0.1', port: 9103 }]);
    expect(c.consensus.timeoutMs).toBe(1000);
    expect(deepMerge({ a: { b: 1, c: [1, 2] } }, { a: { c: [3], d: undefined } })).toEqual({ a: { b: 1, c: [3] } });
  });

  it('a value from a file or an override is not blamed on the environment', () => {
    const file = writeJson('bad-threads.json', { pipeline: { threads: 0 } });
    let e = configError(() => load({ file }));
    expect(e.message).toBe('config key pipeline.threads: must be an integer from 1 to 64');
    e = configError(() => load({ env: { HOTLEDGER_THREADS: '8' }, overrides: { pipeline: { threads: 65 } } }));
    expect(e.message).toBe('config key pipeline.threads: must be an integer from 1 to 64');
  });

  it('"__proto__" in a config file is ignored, not merged into the prototype', () => {
    const file = writeJson('proto.json', '{"__proto__": {"pipeline": {"threads": 7}}, "node": {"__proto__": {"keyFile": "/tmp/evil.json"}}, "log": {"level": "warn"}}');
    const c = load({ file });
    expect(c.log.level).toBe('warn');
    expect(c.pipeline.threads).toBe(AUTO_THREADS);
    expect(c.node.keyFile).toBeUndefined();
    expect(({} as Record<string, unknown>).pipeline).toBeUndefined();
  });
});

describe('config files', () => {
  it('missing, unparsable or non-object files are a ConfigError naming the file', () => {
    const missing = join(tmp, 'missing.json');
    expect(configError(() => load({ file: missing })).message).toContain(`config file ${missing}`);
    const broken = writeJson('broken.json', '{ "pipeline": ');
    expect(configError(() => load({ file: broken })).message).toContain(`config file ${broken}`);
    const arr = writeJson('array.json', '[1]');
    expect(configError(() => load({ file: arr })).message).toBe(`config file ${arr}: top level must be an object`);
  });

  it('type errors name the key', () => {
    const file = writeJson('types.json', { consensus: null, api: { port: '80' } });
    const e = configError(() => load({ file }));
    expect(e.message).toContain('config key consensus:');
    expect(e.message).toContain('config key api.port: must be an integer from 0 to 65535');
  });

  it('every problem is reported, one line each', () => {
    const e = configError(() => load({ env: { HOTLEDGER_THREADS: '0', HOTLEDGER_PORT: '70000' }, overrides: { mempool: { capacity: 0 } } }));
    const lines = e.message.split('\n');
    expect(lines).toHaveLength(3);
    expect(lines.some((l) => l.startsWith('config key pipeline.threads (set by env HOTLEDGER_THREADS="0")'))).toBe(true);
    expect(lines.some((l) => l.startsWith('config key api.port (set by env HOTLEDGER_PORT="70000")'))).toBe(true);
    expect(lines).toContain('config key mempool.capacity: must be an integer from 1 to 10000000');
  });
});

describe('cross-field rules', () => {
  it('heartbeat must be below the consensus timeout', () => {
    for (const [hb, to] of [
      ['1000', '1000'],
      ['5000', '1000'],
    ] as const) {
      const e = configError(() => load({ env: { HOTLEDGER_HEARTBEAT_MS: hb, HOTLEDGER_CONSENSUS_TIMEOUT_MS: to } }));
      expect(e.message).toBe(`config key consensus.heartbeatMs (set by env HOTLEDGER_HEARTBEAT_MS="${hb}"): must be below consensus.timeoutMs (${to})`);
    }
    const e = configError(() => load({ overrides: { consensus: { heartbeatMs: 250, timeoutMs: 200 } } }));
    expect(e.message).toBe('config key consensus.heartbeatMs: must be below consensus.timeoutMs (200)');
    expect(load({ overrides: { consensus: { heartbeatMs: 999, timeoutMs: 1000 } } }).consensus.heartbeatMs).toBe(999);
  });

  it('total genesis supply must fit in 2^53 - 1', () => {
    const pk = (c: string) => c.repeat(64);
    const accounts = (balances: number[]) => balances.map((balance, i) => ({ publicKey: pk('abcdef'[i]!), balance }));
    // Exactly the maximum is fine.
    const ok = load({ overrides: { chain: { genesis: { accounts: accounts([MAX_AMOUNT - 10, 10]) } } } });
    expect(ok.chain.genesis.accounts.reduce((s, a) => s + a.balance, 0)).toBe(MAX_AMOUNT);
    // One more is not: each balance is in range, the sum is not.
    let e = configError(() => load({ overrides: { chain: { genesis: { accounts: accounts([MAX_AMOUNT - 10, 11]) } } } }));
    expect(e.message).toBe(`config key chain.genesis: total genesis supply must be at most ${MAX_AMOUNT}`);
    e = configError(() => load({ overrides: { chain: { genesis: { accounts: accounts([MAX_AMOUNT, MAX_AMOUNT]) } } } }));
    expect(e.message).toContain('total genesis supply must be at most 9007199254740991');
    // Devnet accounts count too.
    e = configError(() => load({ profile: 'devnet', overrides: { chain: { genesis: { devnetAccounts: 100_000, devnetBalance: 2 ** 40 } } } }));
    expect(e.message).toContain('chain.genesis');
    expect(e.message).toContain('total genesis supply');
    e = configError(() => load({ overrides: { chain: { genesis: { accounts: accounts([1]), devnetAccounts: 1, devnetBalance: MAX_AMOUNT } } } }));
    expect(e.message).toContain('total genesis supply');
    // A single balance above the maximum is a range error on that balance.
    e = configError(() => load({ overrides: { chain: { genesis: { accounts: accounts([MAX_AMOUNT + 1]) } } } }));
    expect(e.message).toContain(`config key chain.genesis.accounts.0.balance: must be an integer from 0 to ${MAX_AMOUNT}`);
  });

  it('genesis accounts and validators must be unique', () => {
    const pk = 'ab'.repeat(32);
    let e = configError(() =>
      load({
        overrides: {
          chain: {
            genesis: {
              accounts: [
                { publicKey: pk, balance: 1 },
                { publicKey: pk.toUpperCase(), balance: 2 },
              ],
            },
          },
        },
      }),
    );
    expect(e.message).toBe('config key chain.genesis.accounts.1.publicKey: duplicate genesis account');
    e = configError(() =>
      load({
        overrides: {
          consensus: {
            validators: [
              { id: 'v1', publicKey: pk, port: 9101 },
              { id: 'v1', publicKey: 'cd'.repeat(32), port: 9102 },
              { id: 'v3', publicKey: pk, port: 9103 },
            ],
          },
        },
      }),
    );
    expect(e.message.split('\n')).toEqual([
      'config key consensus.validators.1.id: duplicate member id (validators and followers share one id space)',
      'config key consensus.validators.2.publicKey: duplicate member public key',
    ]);
  });

  it('validator entries are checked field by field', () => {
    const e = configError(() => load({ overrides: { consensus: { validators: [{ id: 'a', publicKey: 'zz', port: 0 }] } } }));
    expect(e.message.split('\n')).toEqual([
      'config key consensus.validators.0.publicKey: must be 64 hex digits',
      'config key consensus.validators.0.port: must be an integer from 1 to 65535',
    ]);
  });
});

describe('docs/configuration.md', () => {
  let doc = '';
  beforeAll(() => {
    doc = readFileSync(join(ROOT, 'docs', 'configuration.md'), 'utf8');
  });

  it('documents every environment variable with its key', () => {
    for (const [name, { path }] of Object.entries(ENV_KEYS)) {
      const row = doc.split('\n').find((l) => l.startsWith('|') && l.includes(`\`${name}\``));
      expect(row, name).toBeDefined();
      expect(row, name).toContain(`\`${path}\``);
    }
    expect(doc).toContain('`HOTLEDGER_PROFILE`');
  });

  it('documents every config key', () => {
    const c = load();
    const leaves: string[] = ['node.keyFile'];
    const walk = (o: Record<string, unknown>, prefix: string): void => {
      for (const [k, v] of Object.entries(o)) {
        const path = prefix ? `${prefix}.${k}` : k;
        if (v !== null && typeof v === 'object' && !Array.isArray(v)) walk(v as Record<string, unknown>, path);
        else leaves.push(path);
      }
    };
    walk(c as unknown as Record<string, unknown>, '');
    expect(leaves.length).toBeGreaterThan(25);
    for (const key of leaves) expect(doc, key).toContain(`\`${key}\``);
  });

  it('documents every profile', () => {
    for (const p of ['bench', 'devnet', 'test']) expect(doc).toContain(`config/profiles/${p}.json`);
  });
});

describe('network section (peer transport limits)', () => {
  it('names the key and range of an out-of-range limit', () => {
    const cases: [string, number, string][] = [
      ['handshakeTimeoutMs', 50, 'from 100 to 60000'],
      ['maxPendingHandshakes', 0, 'from 1 to 100000'],
      ['maxPendingPerAddress', 0, 'from 1 to 100000'],
      ['maxFrameBytes', 1024, 'from 1048576 to 1073741824'],
    ];
    for (const [key, value, range] of cases) {
      const e = configError(() => load({ overrides: { network: { [key]: value } } }));
      expect(e.message).toContain(`config key network.${key}: must be an integer ${range}`);
    }
  });

  it('refuses a per-address cap above the global one, and a frame too small for a full batch', () => {
    expect(configError(() => load({ overrides: { network: { maxPendingHandshakes: 4, maxPendingPerAddress: 8 } } })).message).toContain(
      'config key network.maxPendingPerAddress: must be at most network.maxPendingHandshakes (4)',
    );
    expect(configError(() => load({ overrides: { network: { maxFrameBytes: 8 * 1024 * 1024 } } })).message).toContain(
      'config key network.maxFrameBytes: must be at least pipeline.batchSize',
    );
    expect(load({ overrides: { network: { maxFrameBytes: 8 * 1024 * 1024 }, pipeline: { batchSize: 10_000 } } }).network.maxFrameBytes).toBe(8 * 1024 * 1024);
  });
});
