import { createServer } from 'node:net';
import { join } from 'node:path';
import { writeKeyFile } from '../../src/crypto/keys.js';
import { devnetFollowerKey, devnetValidatorKey } from '../../src/node/validator-set.js';
import { startNode, type RunningNode } from '../../src/node/node.js';
import type { Config } from '../../src/config/schema.js';
import { tempDir, testConfig } from './fixtures.js';

/** Ports the OS says are free right now (bound then released). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<import('node:net').Server>((resolve) => {
          const s = createServer();
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

export interface InProcessCluster {
  nodes: RunningNode[];
  configs: Config[];
  remove(): void;
  close(): Promise<void>;
}

/**
 * N validators in this process, each with its own data dir, key file, peer port and threads, and
 * after them the given followers (business and slim nodes: ids b0.., s0..).
 */
export async function startValidators(
  n: number,
  accounts: number,
  overrides: Record<string, unknown> = {},
  followerRoles: readonly ('business' | 'slim')[] = [],
): Promise<InProcessCluster> {
  const dir = tempDir('hotledger-cluster-');
  const ports = await freePorts(n + followerRoles.length);
  const chainId = 99;
  const entry = (id: string, publicKey: Uint8Array, port: number) => ({ id, publicKey: Buffer.from(publicKey).toString('hex'), host: '127.0.0.1', port });
  const validators = ports.slice(0, n).map((port, i) => entry(`v${i}`, devnetValidatorKey(chainId, i).publicKey, port));
  const counts = { business: 0, slim: 0 };
  const followerIds = followerRoles.map((r) => `${r[0]}${counts[r]++}`);
  const followers = followerRoles.map((_, j) => entry(followerIds[j]!, devnetFollowerKey(chainId, j).publicKey, ports[n + j]!));
  const members = [
    ...validators.map((v, i) => ({ id: v.id, role: 'validator', key: devnetValidatorKey(chainId, i) })),
    ...followerRoles.map((role, j) => ({ id: followerIds[j]!, role, key: devnetFollowerKey(chainId, j) })),
  ];
  const configs = members.map((m) => {
    const keyFile = join(dir.path, `${m.id}.key.json`);
    writeKeyFile(keyFile, m.key);
    return testConfig(join(dir.path, m.id), accounts, {
      node: { id: m.id, keyFile, role: m.role },
      pipeline: { threads: 1 },
      ...overrides,
      // Merged, not replaced: overriding a timing must not drop the validator set.
      consensus: { validators, followers, timeoutMs: 1_000, heartbeatMs: 100, ...(overrides.consensus as object | undefined) },
    });
  });
  const nodes = await Promise.all(configs.map((c) => startNode(c)));
  return {
    nodes,
    configs,
    remove: () => dir.remove(),
    close: async () => {
      await Promise.all(nodes.map((nd) => nd.close()));
    },
  };
}

export async function waitFor(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
