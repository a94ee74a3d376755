import { createHash } from 'node:crypto';
import type { Config } from '../config/schema.js';
import { devnetKeyPair } from '../workload/generate.js';

export interface GenesisAccount {
  publicKey: Buffer;
  balance: number;
}

/** The genesis allocation a config describes: listed accounts, then derived devnet accounts. */
export function genesisAccounts(cfg: Config): GenesisAccount[] {
  const g = cfg.chain.genesis;
  const out: GenesisAccount[] = g.accounts.map((a) => ({ publicKey: Buffer.from(a.publicKey, 'hex'), balance: a.balance }));
  for (let i = 0; i < g.devnetAccounts; i++) {
    out.push({ publicKey: Buffer.from(devnetKeyPair(cfg.chain.chainId, i).publicKey), balance: g.devnetBalance });
  }
  return out;
}

/** Identifies a genesis allocation, so a data dir is never reopened under another chain's config. */
export function genesisId(chainId: number, accounts: readonly GenesisAccount[]): string {
  const h = createHash('sha256').update(`hotledger/genesis/v1\0${chainId}\0`);
  for (const a of accounts) h.update(a.publicKey).update(String(a.balance)).update('\0');
  return h.digest('hex');
}
