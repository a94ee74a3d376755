import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../src/runtime/module-path.js';
import { devnetKeyPair, generateTransfers } from '../src/workload/generate.js';
import type { KeyPair } from '../src/crypto/keys.js';
import { TX_SIZE } from '../src/tx/layout.js';
import { progress } from './progress.js';

export interface BenchWorkload {
  chainId: number;
  accounts: KeyPair[];
  txs: Buffer;
  count: number;
  cachePath: string;
  cached: boolean;
}

/**
 * Signed transfers between `accounts` devnet accounts (each a sender, in round-robin so nonces
 * are consecutive). Signing costs far more than verifying, so workloads are cached in
 * `.bench-cache/` and reused by every later run with the same parameters.
 */
export function loadWorkload(chainId: number, accounts: number, count: number): BenchWorkload {
  const dir = join(projectRoot(), '.bench-cache');
  const cachePath = join(dir, `transfers-v1-c${chainId}-a${accounts}-n${count}.bin`);
  const keys = Array.from({ length: accounts }, (_, i) => devnetKeyPair(chainId, i));
  if (existsSync(cachePath)) {
    const txs = readFileSync(cachePath);
    if (txs.length === count * TX_SIZE) return { chainId, accounts: keys, txs, count, cachePath, cached: true };
  }
  const bar = progress('signing workload', count);
  const txs = generateTransfers({ chainId, senders: keys, recipients: keys.map((k) => k.publicKey), count, onProgress: (d) => bar.update(d) });
  bar.stop();
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${cachePath}.tmp`, txs);
  renameSync(`${cachePath}.tmp`, cachePath);
  return { chainId, accounts: keys, txs, count, cachePath, cached: false };
}
