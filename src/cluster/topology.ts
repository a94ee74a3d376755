import { createServer, type Server } from 'node:net';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeKeyFile } from '../crypto/keys.js';
import { devnetValidatorKey } from '../node/validator-set.js';
import { HotledgerError } from '../errors.js';
import type { ValidatorInfo } from '../config/schema.js';

/** Default ports of a local cluster: validator i serves its API on 9003+i and its peer link on 9103+i. */
export const DEFAULT_API_BASE_PORT = 9003;
/** The peer port base is the API base plus this offset. */
export const PEER_PORT_OFFSET = 100;
/** Validators a local cluster may have: the peer port block must not run into the API block. */
export const MAX_LOCAL_VALIDATORS = PEER_PORT_OFFSET;
export const DEFAULT_CLUSTER_CHAIN_ID = 1337;

export interface ClusterOptions {
  /** Number of validators (1..100). */
  validators: number;
  /** Root directory: <dir>/<id>/node.json, <dir>/<id>/validator-key.json, <dir>/<id>/data. */
  dir: string;
  /** API port of v0; v_i uses basePort+i for its API and basePort+100+i for its peer link. 0 = free ports. */
  basePort?: number;
  chainId?: number;
  /** Funded devnet accounts in genesis (identical on every validator). */
  accounts?: number;
  devnetBalance?: number;
  /** pipeline.threads of each validator. */
  threads?: number;
  timeoutMs?: number;
  heartbeatMs?: number;
  logLevel?: string;
  host?: string;
  /** Extra config merged into every node.json (e.g. { pipeline: { batchTimeoutMs: 5 } }). */
  extra?: Record<string, unknown>;
}

export interface ClusterNodeSpec {
  index: number;
  id: string;
  /** <dir>/<id> */
  home: string;
  configFile: string;
  keyFile: string;
  dataDir: string;
  apiPort: number;
  peerPort: number;
  host: string;
  /** Directory where the node writes the devnet account key files (PUBLIC, insecure). */
  devnetKeyDir: string;
}

export interface Topology {
  dir: string;
  chainId: number;
  accounts: number;
  threads: number;
  timeoutMs: number;
  heartbeatMs: number;
  validators: ValidatorInfo[];
  nodes: ClusterNodeSpec[];
}

/** Ports the OS says are free right now (bound together, then released). */
export async function freePorts(n: number, host = '127.0.0.1'): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      servers.push(
        await new Promise<Server>((res, rej) => {
          const s = createServer();
          s.once('error', rej);
          s.listen(0, host, () => res(s));
        }),
      );
    }
    return servers.map((s) => (s.address() as { port: number }).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  }
}

function checkInt(name: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) throw new HotledgerError('CONFIG_INVALID', `${name} must be an integer from ${min} to ${max} (got ${v})`);
}

/** Ids, keys and ports of an N-validator loopback cluster; nothing is written yet. */
export async function planTopology(o: ClusterOptions): Promise<Topology> {
  const n = o.validators;
  checkInt('--validators', n, 1, MAX_LOCAL_VALIDATORS);
  const basePort = o.basePort ?? DEFAULT_API_BASE_PORT;
  if (basePort !== 0) checkInt('--base-port', basePort, 1, 65535 - PEER_PORT_OFFSET - n + 1);
  const chainId = o.chainId ?? DEFAULT_CLUSTER_CHAIN_ID;
  checkInt('chain id', chainId, 1, 0xffffffff);
  const accounts = o.accounts ?? 64;
  checkInt('--accounts', accounts, 0, 100_000);
  const threads = o.threads ?? 1;
  checkInt('--threads', threads, 1, 64);
  const timeoutMs = o.timeoutMs ?? 1_000;
  const heartbeatMs = o.heartbeatMs ?? Math.min(250, Math.floor(timeoutMs / 4));
  const host = o.host ?? '127.0.0.1';
  const dir = resolve(o.dir);
  let api: number[];
  let peer: number[];
  if (basePort === 0) {
    const ports = await freePorts(2 * n, host);
    api = ports.slice(0, n);
    peer = ports.slice(n);
  } else {
    api = Array.from({ length: n }, (_, i) => basePort + i);
    peer = Array.from({ length: n }, (_, i) => basePort + PEER_PORT_OFFSET + i);
  }
  const validators: ValidatorInfo[] = api.map((_, i) => ({
    id: `v${i}`,
    publicKey: Buffer.from(devnetValidatorKey(chainId, i).publicKey).toString('hex'),
    host,
    port: peer[i]!,
  }));
  const nodes: ClusterNodeSpec[] = validators.map((v, i) => {
    const home = join(dir, v.id);
    const dataDir = join(home, 'data');
    return {
      index: i,
      id: v.id,
      home,
      configFile: join(home, 'node.json'),
      keyFile: join(home, 'validator-key.json'),
      dataDir,
      apiPort: api[i]!,
      peerPort: peer[i]!,
      host,
      devnetKeyDir: join(dataDir, 'keys'),
    };
  });
  return { dir, chainId, accounts, threads, timeoutMs, heartbeatMs, validators, nodes };
}

export const VALIDATOR_MAX_INFLIGHT_BATCHES = 16;

/**
 * Where validator `from` dials validator `to` (undefined: `to`'s own peer address). A node's own
 * entry is never routed: it is the address the node listens on. The fault campaign points every
 * peer link at a proxy of its own this way (src/faults/proxy.ts).
 */
export type PeerRoute = (from: ClusterNodeSpec, to: ValidatorInfo) => { host: string; port: number } | undefined;

export interface NodeConfigOptions extends Pick<ClusterOptions, 'devnetBalance' | 'logLevel' | 'extra'> {
  route?: PeerRoute;
}

/** The config file of one validator (merged by the loader over config/default.json). */
export function nodeConfig(t: Topology, node: ClusterNodeSpec, o: NodeConfigOptions = {}): Record<string, unknown> {
  const route = o.route;
  const validators = route ? t.validators.map((v, i) => (i === node.index ? v : { ...v, ...route(node, v) })) : t.validators;
  const base: Record<string, unknown> = {
    node: { id: node.id, role: 'validator', dataDir: node.dataDir, keyFile: node.keyFile },
    chain: { chainId: t.chainId, genesis: { accounts: [], devnetAccounts: t.accounts, devnetBalance: o.devnetBalance ?? 1_000_000_000 } },
    // A validator's batch stays in flight for several consensus rounds, not one ledger write: with
    // the engine's default of 4 the in-flight cap, not the CPU, bounded cluster throughput
    // (efficiency 0.70-0.72 at 4, 0.94 at 16 in back-to-back runs of bench:cluster).
    pipeline: { threads: t.threads, maxInflightBatches: VALIDATOR_MAX_INFLIGHT_BATCHES },
    consensus: { timeoutMs: t.timeoutMs, heartbeatMs: t.heartbeatMs, validators },
    api: { host: node.host, port: node.apiPort },
    log: { level: o.logLevel ?? 'info' },
  };
  return o.extra ? merge(base, o.extra) : base;
}

function merge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    out[k] =
      v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' && !Array.isArray(cur)
        ? merge(cur as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}

/**
 * Writes every validator's key file (public devnet validator keys: insecure, local use only) and
 * node.json. Data directories are kept: a cluster restarted on the same --dir resumes its chain.
 */
export function writeTopology(t: Topology, o: NodeConfigOptions = {}): void {
  for (const node of t.nodes) {
    mkdirSync(node.dataDir, { recursive: true });
    writeKeyFile(node.keyFile, devnetValidatorKey(t.chainId, node.index));
    writeFileSync(node.configFile, `${JSON.stringify(nodeConfig(t, node, o), null, 2)}\n`);
  }
  writeFileSync(
    join(t.dir, 'cluster.json'),
    `${JSON.stringify(
      {
        chainId: t.chainId,
        accounts: t.accounts,
        threads: t.threads,
        validators: t.nodes.map((n) => ({
          id: n.id,
          api: `http://${n.host}:${n.apiPort}`,
          peerPort: n.peerPort,
          config: n.configFile,
          dataDir: n.dataDir,
        })),
      },
      null,
      2,
    )}\n`,
  );
}
