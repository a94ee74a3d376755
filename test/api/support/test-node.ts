import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig, deepMerge } from '../../../src/config/load.js';
import type { Config } from '../../../src/config/schema.js';
import type { KeyPair } from '../../../src/crypto/keys.js';
import { devnetKeyPair } from '../../../src/workload/generate.js';
import { startNode, type RunningNode } from '../../../src/node/node.js';

export type TestNodeApi = RunningNode;

export interface TestNode {
  node: TestNodeApi;
  /** Funded devnet key pairs (genesis accounts 0..n-1 of the chain). */
  keys: KeyPair[];
  chainId: number;
  config: Config;
  close(): Promise<void>;
}

/** THE one way API tests get a node: the real one, in process, on a temp data dir. Overrides are merged over the `test` profile. */
export async function startTestNode(overrides: Record<string, unknown> = {}): Promise<TestNode> {
  const dataDir = mkdtempSync(join(tmpdir(), 'hotledger-api-test-'));
  const config = loadConfig({
    profile: 'test',
    env: {},
    overrides: deepMerge({ node: { dataDir }, chain: { genesis: { devnetAccounts: 4 } }, api: { host: '127.0.0.1', port: 0 } }, overrides),
  });
  const node: RunningNode = await startNode(config, { logger: pino({ level: 'silent' }) });
  const keys = Array.from({ length: config.chain.genesis.devnetAccounts }, (_, i) => devnetKeyPair(config.chain.chainId, i));
  return {
    node,
    keys,
    chainId: config.chain.chainId,
    config,
    close: async () => {
      await node.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
