import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeKeyFile } from '../crypto/keys.js';
import { devnetKeyPair } from '../workload/generate.js';
import type { Config } from '../config/schema.js';

export function devnetKeyDir(cfg: Config): string {
  return join(cfg.node.dataDir, 'keys');
}

/** Key files are written for the first accounts only; benchmarks derive thousands of accounts. */
export const MAX_DEVNET_KEY_FILES = 64;

/** Writes the key files of the derived devnet accounts, so `hotledger send --key …` works at once. */
export function writeDevnetKeys(cfg: Config): string[] {
  const paths: string[] = [];
  for (let i = 0; i < Math.min(cfg.chain.genesis.devnetAccounts, MAX_DEVNET_KEY_FILES); i++) {
    const p = join(devnetKeyDir(cfg), `account-${i}.json`);
    if (!existsSync(p)) writeKeyFile(p, devnetKeyPair(cfg.chain.chainId, i));
    paths.push(p);
  }
  return paths;
}
