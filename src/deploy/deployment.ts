import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type ClusterNodeSpec,
  type ClusterProcessSpec,
  type ClusterRole,
  devnetMemberKey,
  hostConfig,
  layoutTopology,
  nodeConfig,
  type Topology,
  type TopologyPreset,
} from '../cluster/topology.js';
import { writeKeyFile } from '../crypto/keys.js';

/** Where a container finds its config tree (read-only) and keeps its nodes' data (a volume). */
export const CONTAINER_CONFIG_DIR = '/etc/hotledger';
export const CONTAINER_DATA_DIR = '/var/lib/hotledger';

export type DeployTarget = 'compose' | 'k8s';

/** Headless Service of the Kubernetes StatefulSets: pod `<process>-0` is `<process>-0.<service>`. */
export const K8S_PEER_SERVICE = 'hotledger-peers';

export interface DeploymentOptions {
  topology: TopologyPreset;
  target: DeployTarget;
  chainId?: number;
  accounts?: number;
  threads?: number;
  timeoutMs?: number;
  logLevel?: string;
}

export interface Deployment {
  topology: Topology;
  target: DeployTarget;
  logLevel: string;
}

/**
 * The address other members dial for a process: a compose service is reachable by its name on the
 * bridge network, a StatefulSet pod by its stable name under the headless Service.
 */
export function processHostName(target: DeployTarget): (processId: string) => string {
  return target === 'compose' ? (p) => p : (p) => `${p}-0.${K8S_PEER_SERVICE}`;
}

/** The cluster plan of `hotledger cluster`, with container paths and container host names. */
export function planDeployment(o: DeploymentOptions): Deployment {
  const topology = layoutTopology({
    topology: o.topology,
    dir: CONTAINER_CONFIG_DIR,
    chainId: o.chainId,
    accounts: o.accounts,
    threads: o.threads,
    timeoutMs: o.timeoutMs,
    processHost: processHostName(o.target),
  });
  return { topology, target: o.target, logLevel: o.logLevel ?? 'info' };
}

/** The node's data directory inside its container: on the process's one volume, one subdirectory per node. */
export function containerDataDir(node: ClusterNodeSpec): string {
  return `${CONTAINER_DATA_DIR}/${node.id}`;
}

/**
 * node.json of a containerised node: the topology's config, with the API on every interface (the
 * health check, Prometheus and clients come from outside the loopback of the container) and the
 * data on the process's volume instead of under the read-only config tree.
 */
export function containerNodeConfig(d: Deployment, node: ClusterNodeSpec): Record<string, unknown> {
  const cfg = nodeConfig(d.topology, node, { logLevel: d.logLevel, extra: { api: { host: '0.0.0.0' } } });
  const nodeSection = cfg.node as Record<string, unknown>;
  return { ...cfg, node: { ...nodeSection, dataDir: containerDataDir(node) } };
}

/** Config files a process's container mounts, relative to the config tree (its nodes' dirs, and its own for a host). */
export function processConfigDirs(d: Deployment, p: ClusterProcessSpec): string[] {
  const dirs = p.nodes.map((i) => d.topology.nodes[i]!.id);
  return p.command === 'host' ? [p.id, ...dirs] : dirs;
}

/** The command a container runs: the config file path inside the container. */
export function processArgs(p: ClusterProcessSpec): string[] {
  return [p.command, '--config', p.configFile];
}

export function nodesOf(d: Deployment, p: ClusterProcessSpec): ClusterNodeSpec[] {
  return p.nodes.map((i) => d.topology.nodes[i]!);
}

export function processesOf(d: Deployment, role: ClusterRole): ClusterProcessSpec[] {
  return d.topology.processes.filter((p) => p.role === role);
}

/**
 * Writes the config tree the containers mount: <out>/<node>/node.json and its member key file,
 * <out>/<process>/host.json. The keys are the PUBLIC devnet keys (insecure): they are made
 * readable by the container's unprivileged user, which owns none of the bind-mounted files.
 */
export function writeDeploymentConfig(d: Deployment, out: string): void {
  const t = d.topology;
  for (const node of t.nodes) {
    const home = join(out, node.id);
    mkdirSync(home, { recursive: true });
    const keyFile = join(home, `${node.role}-key.json`);
    writeKeyFile(keyFile, devnetMemberKey(t, node), { overwrite: true });
    chmodSync(keyFile, 0o644);
    chmodSync(home, 0o755); // writeKeyFile makes a new key directory 0700
    writeFileSync(join(home, 'node.json'), `${JSON.stringify(containerNodeConfig(d, node), null, 2)}\n`);
  }
  for (const p of t.processes) {
    if (p.command !== 'host') continue;
    mkdirSync(join(out, p.id), { recursive: true });
    writeFileSync(join(out, p.id, 'host.json'), `${JSON.stringify(hostConfig(t, p), null, 2)}\n`);
  }
}
