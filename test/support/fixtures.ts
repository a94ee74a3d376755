import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { devnetKeyPair } from '../../src/workload/generate.js';
import type { KeyPair } from '../../src/crypto/keys.js';

/** A throwaway data directory under the OS temp dir; remove() is safe to call twice. */
export function tempDir(prefix = 'hotledger-test-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** The test profile with `accounts` funded devnet accounts in `dataDir`. */
export function testConfig(dataDir: string, accounts: number, overrides: Record<string, unknown> = {}): Config {
  return loadConfig({
    profile: 'test',
    env: {},
    overrides: deepAssign({ node: { dataDir }, chain: { genesis: { devnetAccounts: accounts, devnetBalance: 1_000_000 } } }, overrides),
  });
}

export function devnetKeys(chainId: number, n: number): KeyPair[] {
  return Array.from({ length: n }, (_, i) => devnetKeyPair(chainId, i));
}

function deepAssign(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  for (const [k, v] of Object.entries(b)) {
    const cur = a[k];
    a[k] =
      v && typeof v === 'object' && !Array.isArray(v) && cur && typeof cur === 'object' ? deepAssign({ ...(cur as Record<string, unknown>) }, v as Record<string, unknown>) : v;
  }
  return a;
}
