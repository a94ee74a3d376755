import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { writeKeyFile } from '../crypto/keys.js';
import { devnetKeyPair } from '../workload/generate.js';
import type { Config } from '../config/schema.js';

export function devnetKeyDir(cfg: Config): string {
  return join(cfg.node.dataDir, 'keys');
}

/** Writes the key file of every derived devnet account, so `hotledger send --key …` works at once. */
export function writeDevnetKeys(cfg: Config): string[] {
  const paths: string[] = [];
  for (let i = 0; i < cfg.chain.genesis.devnetAccounts; i++) {
    const p = join(devnetKeyDir(cfg), `account-${i}.json`);
    if (!existsSync(p)) writeKeyFile(p, devnetKeyPair(cfg.chain.chainId, i));
    paths.push(p);
  }
  return paths;
}
