import { createServer, type Server } from 'node:net';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { type KeyPair, writeKeyFile } from '../crypto/keys.js';
import { devnetFollowerKey, devnetValidatorKey } from '../node/validator-set.js';
import { MAX_HOSTED_NODES } from '../host/host-config.js';
import { HotledgerError } from '../errors.js';
import type { ValidatorInfo } from '../config/schema.js';

/** Default ports of a local cluster: validator i serves its API on 9003+i and its peer link on 9103+i. */
export const DEFAULT_API_BASE_PORT = 9003;
/** Within a role's port block, the peer ports start this far above the API ports. */
export const PEER_PORT_OFFSET = 100;
/** Nodes of one role a local cluster may have: a role's peer ports must not run into the next block. */
export const MAX_LOCAL_VALIDATORS = PEER_PORT_OFFSET;
export const MAX_NODES_PER_ROLE = PEER_PORT_OFFSET;
export const DEFAULT_CLUSTER_CHAIN_ID = 1337;

export const CLUSTER_ROLES = ['validator', 'business', 'slim'] as const;
export type ClusterRole = (typeof CLUSTER_ROLES)[number];

/**
 * Where each role's port block starts above --base-port: node j of a role serves its API on
 * base + offset + j and its peer link on base + offset + 100 + j. Validators keep the historic
 * 9003+i / 9103+i; business nodes take 9203.. / 9303.., slim nodes 9403.. / 9503...
 */
export const ROLE_PORT_OFFSET: Readonly<Record<ClusterRole, number>> = { validator: 0, business: 200, slim: 400 };

/** Node id prefix of each role: v0.., b0.., s0... */
export const ROLE_ID_PREFIX: Readonly<Record<ClusterRole, string>> = { validator: 'v', business: 'b', slim: 's' };

/** How many nodes each process of a role hosts, in order (the sum is the role's node count). */
export type ProcessGrouping = Readonly<Record<ClusterRole, readonly number[]>>;

/**
 * The topologies of the deployment documents. option-b: 51 nodes in 14 processes; option-c:
 * 65 nodes in 15 processes. Slim processes hold 3,3,3,2,2,2 in both: 15 slim nodes over 6 hosts.
 */
export const TOPOLOGY_PRESETS = {
  'option-b': { validator: [5, 5, 5, 5], business: [4, 4, 4, 4], slim: [3, 3, 3, 2, 2, 2] },
  'option-c': { validator: [6, 6, 6, 6, 6], business: [5, 5, 5, 5], slim: [3, 3, 3, 2, 2, 2] },
} as const satisfies Record<string, ProcessGrouping>;
export type TopologyPreset = keyof typeof TOPOLOGY_PRESETS;
export const TOPOLOGY_PRESET_NAMES = Object.keys(TOPOLOGY_PRESETS) as TopologyPreset[];

export interface ClusterOptions {
  /** Validators (1..100); ignored with `topology`. */
  validators?: number;
  /** Business nodes (0..100); ignored with `topology`. */
  business?: number;
  /** Slim nodes (0..100); ignored with `topology`. */
  slim?: number;
  /** Nodes of one role per process (the last process of a role takes the remainder); 1 = one `hotledger start` per node. */
  perProcess?: number;
  /** A documented topology: counts and process grouping of every role. */
  topology?: TopologyPreset;
  /** Root directory: <dir>/<node id>/{node.json, <role>-key.json, data/}, <dir>/<process id>/host.json. */
  dir: string;
  /** API port of v0; see ROLE_PORT_OFFSET for the others. 0 = free ports. */
  basePort?: number;
  chainId?: number;
  /** Funded devnet accounts in genesis (identical on every node). */
  accounts?: number;
  devnetBalance?: number;
  /** pipeline.threads of each node; also verify.threads of each host process (its one shared pool). */
  threads?: number;
  timeoutMs?: number;
  heartbeatMs?: number;
  logLevel?: string;
  host?: string;
  /**
   * The address other members dial to reach the process `processId` (a compose service or a
   * Kubernetes pod name); default: `host` for every node, as on loopback.
   */
  processHost?: (processId: string, role: ClusterRole) => string;
  /** Extra config merged into every node.json (e.g. { pipeline: { batchTimeoutMs: 5 } }). */
  extra?: Record<string, unknown>;
}

export interface ClusterNodeSpec {
  /** Position in Topology.nodes (validators, then business, then slim): also the member index. */
  index: number;
  id: string;
  role: ClusterRole;
  /** Id of the process that runs this node. */
  process: string;
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

/**
 * One OS process of the cluster: `hotledger start --config <node.json>` when it runs one node
 * (it is then named after that node), else `hotledger host --config <dir>/<id>/host.json`, its
 * nodes on one verify pool.
 */
export interface ClusterProcessSpec {
  index: number;
  id: string;
  role: ClusterRole;
  /** Indices into Topology.nodes. */
  nodes: number[];
  command: 'start' | 'host';
  /** The node's home for `start`, <dir>/<id> for `host`. */
  home: string;
  /** node.json for `start`, host.json for `host`. */
  configFile: string;
  /** Where the supervisor appends the process's stderr (its JSON log). */
  logFile: string;
}

export interface Topology {
  dir: string;
  /** Set when the topology is a documented preset. */
  preset: TopologyPreset | undefined;
  grouping: ProcessGrouping;
  chainId: number;
  accounts: number;
  threads: number;
  timeoutMs: number;
  heartbeatMs: number;
  /** consensus.validators of every node. */
  validators: ValidatorInfo[];
  /** consensus.followers of every node: business nodes, then slim nodes. */
  followers: ValidatorInfo[];
  nodes: ClusterNodeSpec[];
  processes: ClusterProcessSpec[];
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

/** `count` nodes in processes of `perProcess`, the last one taking the remainder: 7 by 3 = [3, 3, 1]. */
export function groupSizes(count: number, perProcess: number): number[] {
  const sizes: number[] = [];
  for (let left = count; left > 0; left -= perProcess) sizes.push(Math.min(perProcess, left));
  return sizes;
}

/** Roles' process sizes from a preset or from the counts and --per-process. */
export function clusterGrouping(o: Pick<ClusterOptions, 'validators' | 'business' | 'slim' | 'perProcess' | 'topology'>): ProcessGrouping {
  if (o.topology !== undefined) {
    if (!Object.hasOwn(TOPOLOGY_PRESETS, o.topology))
      throw new HotledgerError('CONFIG_INVALID', `--topology must be one of ${TOPOLOGY_PRESET_NAMES.join(', ')} (got ${JSON.stringify(o.topology)})`);
    return TOPOLOGY_PRESETS[o.topology];
  }
  const validators = o.validators ?? 4;
  const business = o.business ?? 0;
  const slim = o.slim ?? 0;
  const perProcess = o.perProcess ?? 1;
  checkInt('--validators', validators, 1, MAX_NODES_PER_ROLE);
  checkInt('--business', business, 0, MAX_NODES_PER_ROLE);
  checkInt('--slim', slim, 0, MAX_NODES_PER_ROLE);
  checkInt('--per-process', perProcess, 1, MAX_HOSTED_NODES);
  return { validator: groupSizes(validators, perProcess), business: groupSizes(business, perProcess), slim: groupSizes(slim, perProcess) };
}

const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

/** Nodes of a grouping: every role's API and peer port come from it. */
export function nodeCount(g: ProcessGrouping): number {
  return CLUSTER_ROLES.reduce((n, r) => n + sum(g[r]), 0);
}

/**
 * Ids, roles, process grouping, keys' public halves and ports of a loopback cluster, as data:
 * nothing is read or written. With --base-port 0 the caller passes `ports` (2 per node: every
 * API port, then every peer port, in node order); planTopology does that with freePorts.
 */
export function layoutTopology(o: ClusterOptions, ports?: readonly number[]): Topology {
  const grouping = clusterGrouping(o);
  const total = nodeCount(grouping);
  const basePort = o.basePort ?? DEFAULT_API_BASE_PORT;
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
  checkInt('--base-port', basePort, 0, 65535);
  if (basePort === 0 && ports?.length !== 2 * total) {
    throw new HotledgerError('INTERNAL', `--base-port 0 needs ${2 * total} free ports from the caller (got ${ports?.length ?? 0})`);
  }

  if (basePort !== 0) {
    // The highest port of the block is the peer port of the last node of the last role present.
    const last = [...CLUSTER_ROLES].reverse().find((r) => sum(grouping[r]) > 0)!;
    const top = basePort + ROLE_PORT_OFFSET[last] + PEER_PORT_OFFSET + sum(grouping[last]) - 1;
    if (top > 65535) {
      throw new HotledgerError(
        'CONFIG_INVALID',
        `--base-port ${basePort} puts ${ROLE_ID_PREFIX[last]}${sum(grouping[last]) - 1}'s peer port at ${top}, beyond 65535: lower --base-port to at most ${65535 - (top - basePort)} (or 0 for free ports)`,
      );
    }
  }
  const nodes: ClusterNodeSpec[] = [];
  const processes: ClusterProcessSpec[] = [];
  for (const role of CLUSTER_ROLES) {
    const prefix = ROLE_ID_PREFIX[role];
    let j = 0;
    grouping[role].forEach((size, k) => {
      const members: number[] = [];
      const firstId = `${prefix}${j}`;
      const processId = size === 1 ? firstId : `p${prefix}${k}`;
      for (let m = 0; m < size; m++, j++) {
        const index = nodes.length;
        const id = `${prefix}${j}`;
        const home = join(dir, id);
        const dataDir = join(home, 'data');
        let apiPort: number;
        let peerPort: number;
        if (basePort === 0) {
          apiPort = ports![index]!;
          peerPort = ports![total + index]!;
        } else {
          apiPort = basePort + ROLE_PORT_OFFSET[role] + j;
          peerPort = apiPort + PEER_PORT_OFFSET;
        }
        nodes.push({
          index,
          id,
          role,
          process: processId,
          home,
          configFile: join(home, 'node.json'),
          keyFile: join(home, `${role}-key.json`),
          dataDir,
          apiPort,
          peerPort,
          host: o.processHost ? o.processHost(processId, role) : host,
          devnetKeyDir: join(dataDir, 'keys'),
        });
        members.push(index);
      }
      const one = size === 1 ? nodes[members[0]!]! : undefined;
      const home = one ? one.home : join(dir, processId);
      processes.push({
        index: processes.length,
        id: processId,
        role,
        nodes: members,
        command: one ? 'start' : 'host',
        home,
        configFile: one ? one.configFile : join(home, 'host.json'),
        logFile: join(home, one ? 'node.log' : 'host.log'),
      });
    });
  }
  const member = (n: ClusterNodeSpec, key: KeyPair): ValidatorInfo => ({ id: n.id, publicKey: Buffer.from(key.publicKey).toString('hex'), host: n.host, port: n.peerPort });
  const validatorNodes = nodes.filter((n) => n.role === 'validator');
  const followerNodes = nodes.filter((n) => n.role !== 'validator');
  const validators = validatorNodes.map((n) => member(n, devnetValidatorKey(chainId, n.index)));
  const followers = followerNodes.map((n) => member(n, devnetFollowerKey(chainId, n.index - validatorNodes.length)));
  return { dir, preset: o.topology, grouping, chainId, accounts, threads, timeoutMs, heartbeatMs, validators, followers, nodes, processes };
}

/** layoutTopology, with free ports looked up first when --base-port is 0. */
export async function planTopology(o: ClusterOptions): Promise<Topology> {
  const basePort = o.basePort ?? DEFAULT_API_BASE_PORT;
  if (basePort !== 0) return layoutTopology(o);
  const total = nodeCount(clusterGrouping(o));
  return layoutTopology(o, await freePorts(2 * total, o.host ?? '127.0.0.1'));
}

/** The key pair behind node i's entry in consensus.validators or consensus.followers (PUBLIC, insecure). */
export function devnetMemberKey(t: Topology, node: ClusterNodeSpec): KeyPair {
  return node.role === 'validator' ? devnetValidatorKey(t.chainId, node.index) : devnetFollowerKey(t.chainId, node.index - t.validators.length);
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

/** The config file of one node, any role (merged by the loader over config/default.json). */
export function nodeConfig(t: Topology, node: ClusterNodeSpec, o: NodeConfigOptions = {}): Record<string, unknown> {
  const route = o.route;
  const validators = route ? t.validators.map((v, i) => (i === node.index ? v : { ...v, ...route(node, v) })) : t.validators;
  const base: Record<string, unknown> = {
    node: { id: node.id, role: node.role, dataDir: node.dataDir, keyFile: node.keyFile },
    chain: { chainId: t.chainId, genesis: { accounts: [], devnetAccounts: t.accounts, devnetBalance: o.devnetBalance ?? 1_000_000_000 } },
    // A validator's batch stays in flight for several consensus rounds, not one ledger write: with
    // the engine's default of 4 the in-flight cap, not the CPU, bounded cluster throughput
    // (efficiency 0.70-0.72 at 4, 0.94 at 16 in back-to-back runs of bench:cluster).
    pipeline: { threads: t.threads, maxInflightBatches: VALIDATOR_MAX_INFLIGHT_BATCHES },
    consensus: { timeoutMs: t.timeoutMs, heartbeatMs: t.heartbeatMs, validators, followers: t.followers },
    api: { host: node.host, port: node.apiPort },
    log: { level: o.logLevel ?? 'info' },
  };
  return o.extra ? merge(base, o.extra) : base;
}

/** host.json of a `host` process: its nodes' config files (relative to it) on one verify pool of --threads. */
export function hostConfig(t: Topology, p: ClusterProcessSpec): { verify: { threads: number }; nodes: string[] } {
  return { verify: { threads: t.threads }, nodes: p.nodes.map((i) => relative(p.home, t.nodes[i]!.configFile)) };
}

/** The command line of a process, as an operator would type it. */
export function processCommand(p: ClusterProcessSpec): string {
  return `hotledger ${p.command} --config ${p.configFile}`;
}

/** cluster.json: every node and every process of the topology. */
export function clusterSummary(t: Topology): Record<string, unknown> {
  return {
    preset: t.preset ?? null,
    chainId: t.chainId,
    accounts: t.accounts,
    threads: t.threads,
    counts: Object.fromEntries(CLUSTER_ROLES.map((r) => [r, t.nodes.filter((n) => n.role === r).length])),
    nodes: t.nodes.map((n) => ({
      id: n.id,
      role: n.role,
      process: n.process,
      api: `http://${n.host}:${n.apiPort}`,
      peerPort: n.peerPort,
      config: n.configFile,
      keyFile: n.keyFile,
      dataDir: n.dataDir,
    })),
    processes: t.processes.map((p) => ({
      id: p.id,
      role: p.role,
      command: processCommand(p),
      nodes: p.nodes.map((i) => t.nodes[i]!.id),
      config: p.configFile,
      log: p.logFile,
    })),
  };
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
 * Writes every node's key file (public devnet keys: insecure, local use only) and node.json, each
 * host process's host.json, and cluster.json. Data directories are kept: a cluster restarted on
 * the same --dir resumes its chain.
 */
export function writeTopology(t: Topology, o: NodeConfigOptions = {}): void {
  for (const node of t.nodes) {
    mkdirSync(node.dataDir, { recursive: true });
    writeKeyFile(node.keyFile, devnetMemberKey(t, node));
    writeFileSync(node.configFile, `${JSON.stringify(nodeConfig(t, node, o), null, 2)}\n`);
  }
  for (const p of t.processes) {
    if (p.command !== 'host') continue;
    mkdirSync(p.home, { recursive: true });
    writeFileSync(p.configFile, `${JSON.stringify(hostConfig(t, p), null, 2)}\n`);
  }
  writeFileSync(join(t.dir, 'cluster.json'), `${JSON.stringify(clusterSummary(t), null, 2)}\n`);
}
