import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type ClusterOptions, DEFAULT_API_BASE_PORT, hostConfig, layoutTopology, nodeConfig, type Topology, writeTopology } from '../../src/cluster/topology.js';
import { loadConfig } from '../../src/config/load.js';
import { loadHostConfig, planHost } from '../../src/host/host-config.js';
import { memberIdentity } from '../../src/node/validator-set.js';
import { tempDir } from '../support/fixtures.js';

/** Plans only: nothing here starts a node (business and slim nodes cannot start yet). */
const dirs: { remove(): void }[] = [];
afterAll(() => {
  for (const d of dirs) d.remove();
});

function plan(o: Omit<ClusterOptions, 'dir'>): Topology {
  const d = tempDir('hotledger-topology-');
  dirs.push(d);
  return layoutTopology({ dir: d.path, ...o });
}

const sizes = (t: Topology, role: string) => t.processes.filter((p) => p.role === role).map((p) => p.nodes.length);
const ids = (t: Topology, role: string) => t.nodes.filter((n) => n.role === role).map((n) => n.id);

function expectUnique(t: Topology): void {
  const ports = t.nodes.flatMap((n) => [n.apiPort, n.peerPort]);
  expect(new Set(ports).size).toBe(ports.length);
  expect(new Set(t.nodes.map((n) => n.id)).size).toBe(t.nodes.length);
  expect(new Set(t.processes.map((p) => p.id)).size).toBe(t.processes.length);
  const keys = [...t.validators, ...t.followers].map((m) => m.publicKey);
  expect(new Set(keys).size).toBe(t.nodes.length);
  for (const dirOf of [(n: Topology['nodes'][number]) => n.dataDir, (n: Topology['nodes'][number]) => n.keyFile, (n: Topology['nodes'][number]) => n.configFile]) {
    expect(new Set(t.nodes.map(dirOf)).size).toBe(t.nodes.length);
  }
  // Every node in exactly one process, and a node names the process that lists it.
  const listed = t.processes.flatMap((p) => p.nodes);
  expect([...listed].sort((a, b) => a - b)).toEqual(t.nodes.map((n) => n.index));
  for (const p of t.processes) for (const i of p.nodes) expect(t.nodes[i]!.process).toBe(p.id);
}

/**
 * Writes the topology and loads every generated file through the real loaders: each node.json
 * with loadConfig (and its key file against its member entry), each host.json with loadHostConfig.
 */
function loadEverything(t: Topology): void {
  writeTopology(t, { logLevel: 'warn' });
  const members = JSON.stringify([t.validators, t.followers]);
  for (const n of t.nodes) {
    const c = loadConfig({ file: n.configFile, env: {} });
    expect(c.node).toMatchObject({ id: n.id, role: n.role, keyFile: n.keyFile, dataDir: n.dataDir });
    expect(c.api.port).toBe(n.apiPort);
    expect(JSON.stringify([c.consensus.validators, c.consensus.followers])).toBe(members);
    expect(c.chain.genesis.devnetAccounts).toBe(t.accounts);
    const me = memberIdentity(c)!;
    expect(me.role).toBe(n.role);
    expect(me.index).toBe(n.index);
  }
  for (const p of t.processes) {
    if (p.command === 'start') {
      expect(p.nodes).toHaveLength(1);
      expect(p.configFile).toBe(t.nodes[p.nodes[0]!]!.configFile);
      continue;
    }
    const h = loadHostConfig(p.configFile, {});
    expect(h.host.verify.threads).toBe(t.threads);
    expect(h.nodes.map((c) => c.node.id)).toEqual(p.nodes.map((i) => t.nodes[i]!.id));
  }
  const summary = JSON.parse(readFileSync(join(t.dir, 'cluster.json'), 'utf8')) as { nodes: { id: string; role: string; process: string; api: string }[]; processes: unknown[] };
  expect(summary.nodes).toHaveLength(t.nodes.length);
  expect(summary.processes).toHaveLength(t.processes.length);
  expect(summary.nodes.map((n) => `${n.id}/${n.role}/${n.process}`)).toEqual(t.nodes.map((n) => `${n.id}/${n.role}/${n.process}`));
}

describe('cluster topology plan', () => {
  it('option-b: 20 validators in 4 processes of 5, 16 business in 4 of 4, 15 slim in 3,3,3,2,2,2', () => {
    const t = plan({ topology: 'option-b', accounts: 2 });
    expect(t.nodes).toHaveLength(51);
    expect(t.processes).toHaveLength(14);
    expect(sizes(t, 'validator')).toEqual([5, 5, 5, 5]);
    expect(sizes(t, 'business')).toEqual([4, 4, 4, 4]);
    expect(sizes(t, 'slim')).toEqual([3, 3, 3, 2, 2, 2]);
    expect(ids(t, 'validator')).toEqual(Array.from({ length: 20 }, (_, i) => `v${i}`));
    expect(ids(t, 'business')).toEqual(Array.from({ length: 16 }, (_, i) => `b${i}`));
    expect(ids(t, 'slim')).toEqual(Array.from({ length: 15 }, (_, i) => `s${i}`));
    expect(t.processes.every((p) => p.command === 'host')).toBe(true);
    expect(t.processes.map((p) => p.id)).toEqual(['pv0', 'pv1', 'pv2', 'pv3', 'pb0', 'pb1', 'pb2', 'pb3', 'ps0', 'ps1', 'ps2', 'ps3', 'ps4', 'ps5']);
    expect(t.processes[1]!.nodes.map((i) => t.nodes[i]!.id)).toEqual(['v5', 'v6', 'v7', 'v8', 'v9']);
    expect(t.validators).toHaveLength(20);
    expect(t.followers.map((f) => f.id)).toEqual([...ids(t, 'business'), ...ids(t, 'slim')]);
    expectUnique(t);
    loadEverything(t);
  });

  it('option-c: 30 validators in 5 processes of 6, 20 business in 4 of 5, 15 slim in the same 6 processes', () => {
    const t = plan({ topology: 'option-c', accounts: 2, threads: 2 });
    expect(t.nodes).toHaveLength(65);
    expect(t.processes).toHaveLength(15);
    expect(sizes(t, 'validator')).toEqual([6, 6, 6, 6, 6]);
    expect(sizes(t, 'business')).toEqual([5, 5, 5, 5]);
    expect(sizes(t, 'slim')).toEqual([3, 3, 3, 2, 2, 2]);
    expectUnique(t);
    loadEverything(t);
  });

  it('uses the documented port scheme: validators 9003+i / 9103+i, business +200 / +300, slim +400 / +500', () => {
    const t = plan({ topology: 'option-b' });
    const port = (id: string) => t.nodes.find((n) => n.id === id)!;
    expect(port('v0')).toMatchObject({ apiPort: 9003, peerPort: 9103 });
    expect(port('v19')).toMatchObject({ apiPort: 9022, peerPort: 9122 });
    expect(port('b0')).toMatchObject({ apiPort: 9203, peerPort: 9303 });
    expect(port('b15')).toMatchObject({ apiPort: 9218, peerPort: 9318 });
    expect(port('s0')).toMatchObject({ apiPort: 9403, peerPort: 9503 });
    expect(port('s14')).toMatchObject({ apiPort: 9417, peerPort: 9517 });
    const shifted = plan({ topology: 'option-c', basePort: 20_000 });
    expect(shifted.nodes.find((n) => n.id === 's0')).toMatchObject({ apiPort: 20_400, peerPort: 20_500 });
  });

  it('refuses a --base-port whose block runs past 65535 and says which flag to change', () => {
    // option-c's highest port is s14's peer port, base + 514.
    expect(() => plan({ topology: 'option-c', basePort: 65_100 })).toThrow(/--base-port 65100 puts s14's peer port at 65614, beyond 65535: lower --base-port to at most 65021/);
    expect(() => plan({ topology: 'option-c', basePort: 65_021 })).not.toThrow();
    expect(() => plan({ validators: 4, basePort: 65_432 })).not.toThrow(); // v3's peer port: 65535
    expect(() => plan({ validators: 4, basePort: 65_433 })).toThrow(/v3's peer port at 65536, beyond 65535: lower --base-port to at most 65432/);
    expect(() => plan({ validators: 101 })).toThrow(/--validators must be an integer from 1 to 100/);
    expect(() => plan({ validators: 4, perProcess: 0 })).toThrow(/--per-process must be an integer from 1 to 64/);
    expect(() => plan({ topology: 'option-z' as never })).toThrow(/--topology must be one of option-b, option-c/);
    expect(() => plan({ topology: 'toString' as never })).toThrow(/--topology must be one of/);
  });

  it('groups --per-process P nodes of one role per process, the last taking the remainder; P=1 keeps one `start` per node', () => {
    const t = plan({ validators: 7, business: 5, slim: 2, perProcess: 3 });
    expect(sizes(t, 'validator')).toEqual([3, 3, 1]);
    expect(sizes(t, 'business')).toEqual([3, 2]);
    expect(sizes(t, 'slim')).toEqual([2]);
    // A process of one node is `hotledger start`, named after its node.
    expect(t.processes.map((p) => `${p.id}:${p.command}`)).toEqual(['pv0:host', 'pv1:host', 'v6:start', 'pb0:host', 'pb1:host', 'ps0:host']);
    expectUnique(t);
    loadEverything(t);

    const today = plan({ validators: 4 });
    expect(today.processes.map((p) => `${p.id}:${p.command}`)).toEqual(['v0:start', 'v1:start', 'v2:start', 'v3:start']);
    expect(today.nodes.map((n) => [n.apiPort, n.peerPort])).toEqual([0, 1, 2, 3].map((i) => [DEFAULT_API_BASE_PORT + i, DEFAULT_API_BASE_PORT + 100 + i]));
    expect(today.processes.map((p) => p.configFile)).toEqual(today.nodes.map((n) => n.configFile));
    expect(today.followers).toEqual([]);
    loadEverything(today);
  });

  it('hands a host.json whose two followers share a peer port back to the loader as a refusal naming the key', () => {
    const t = plan({ validators: 4, business: 2, perProcess: 2 });
    const pb0 = t.processes.find((p) => p.id === 'pb0')!;
    const [b0, b1] = pb0.nodes.map((i) => nodeConfig(t, t.nodes[i]!));
    writeTopology(t);
    const followers = (b1!.consensus as { followers: { port: number }[] }).followers;
    followers[1]!.port = t.nodes[pb0.nodes[0]!]!.peerPort;
    expect(() => planHost({ nodes: [b0, b1] }, t.dir, {})).toThrow(/key nodes\[1\]\.consensus\.followers\[1\]\.port: \d+ is already used by nodes\[0\]/);
    // The generated host.json itself passes.
    const file = join(t.dir, 'pb0-copy.json');
    writeFileSync(file, JSON.stringify({ ...hostConfig(t, pb0), nodes: hostConfig(t, pb0).nodes.map((n) => join(pb0.home, n)) }));
    expect(loadHostConfig(file, {}).nodes.map((c) => c.node.role)).toEqual(['business', 'business']);
  });
});
