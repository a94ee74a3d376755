import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeConfig, planTopology, type Topology } from '../../src/cluster/topology.js';
import { loadHostConfig, planHost } from '../../src/host/host-config.js';
import { ConfigError } from '../../src/errors.js';

let dir: string;
let topo: Topology;
const env = {};

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hotledger-host-config-'));
  topo = await planTopology({ validators: 4, dir, basePort: 19_003, chainId: 9 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const nodes = () => topo.nodes.map((n) => nodeConfig(topo, n));

function refusal(raw: unknown): ConfigError {
  try {
    planHost(raw, dir, env);
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error('host config was accepted');
}

describe('host.json: validated with the key in every message', () => {
  it('accepts four validators, from files relative to host.json and inline, with the verify defaults', () => {
    const configs = nodes();
    writeFileSync(join(dir, 'v0.json'), JSON.stringify(configs[0]));
    writeFileSync(join(dir, 'host.json'), JSON.stringify({ verify: { threads: 2 }, nodes: ['v0.json', ...configs.slice(1)] }));
    const plan = loadHostConfig(join(dir, 'host.json'), env);
    expect(plan.nodes.map((c) => c.node.id)).toEqual(['v0', 'v1', 'v2', 'v3']);
    expect(plan.host.verify).toEqual({ threads: 2, chunkSize: 4096, cacheBatches: 1024 });
  });

  it('refuses two nodes on one data dir, naming the key', () => {
    const c = nodes();
    (c[2]!.node as Record<string, unknown>).dataDir = (c[0]!.node as Record<string, unknown>).dataDir;
    const e = refusal({ nodes: c });
    expect(e.message).toMatch(/key nodes\[2\]\.node\.dataDir: .* is already used by nodes\[0\]/);
    expect(e.details?.keys).toEqual(['nodes[2].node.dataDir']);
  });

  it("refuses two nodes on one API port, and an API port that is another node's peer port", () => {
    const c = nodes();
    (c[1]!.api as Record<string, unknown>).port = 19_003;
    expect(refusal({ nodes: c }).message).toMatch(/key nodes\[1\]\.api\.port: 19003 is already used by nodes\[0\]/);
    const d = nodes();
    (d[3]!.api as Record<string, unknown>).port = topo.nodes[0]!.peerPort;
    expect(refusal({ nodes: d }).message).toMatch(/key nodes\[3\]\.api\.port: \d+ is already used by nodes\[0\]/);
  });

  it('refuses two nodes on one peer port, and one validator identity hosted twice', () => {
    const c = nodes();
    const validators = (c[1]!.consensus as { validators: { port: number }[] }).validators;
    validators[1]!.port = topo.nodes[0]!.peerPort;
    expect(refusal({ nodes: c }).message).toMatch(/key nodes\[1\]\.consensus\.validators\[1\]\.port: \d+ is already used by nodes\[0\]/);
    const twice = nodes();
    twice[1] = { ...twice[0]!, node: { ...(twice[0]!.node as object), id: 'v0' } };
    expect(refusal({ nodes: twice }).message).toMatch(/key nodes\[1\]\.node\.id: v0 is already used by nodes\[0\]/);
  });

  it('names the host key or the node and its key for invalid values', () => {
    expect(refusal({ verify: { threads: 0 }, nodes: nodes() }).message).toMatch(/key verify\.threads: must be an integer from 1 to 64/);
    expect(refusal({ verify: { thread: 2 }, nodes: nodes() }).message).toMatch(/key verify: .*thread/);
    expect(refusal({ nodes: [] }).message).toMatch(/key nodes: must list at least one node/);
    const c = nodes();
    (c[2]!.api as Record<string, unknown>).port = 70_000;
    expect(refusal({ nodes: c }).message).toMatch(/nodes\[2\]: config key api\.port: must be an integer from 0 to 65535/);
    expect(refusal({ nodes: ['missing.json'] }).message).toMatch(/nodes\[0\] \(missing\.json\)/);
  });
});
