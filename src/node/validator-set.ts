import type { Config } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import { readKeyFile, type KeyPair } from '../crypto/keys.js';
import { publicDerivedKeyPair } from '../workload/generate.js';
import type { PeerInfo } from '../network/index.js';
import { faultTolerance } from '../consensus/index.js';

export interface ValidatorIdentity {
  /** This node's index in `consensus.validators` (config order is the index order). */
  index: number;
  key: KeyPair;
  peers: PeerInfo[];
}

/**
 * Public, insecure validator keys for local clusters (`hotledger cluster`, tests), derived like
 * devnet accounts so every process agrees on the set without exchanging files.
 */
export function devnetValidatorKey(chainId: number, index: number): KeyPair {
  return publicDerivedKeyPair('hotledger/devnet-validator/v1\0', chainId, index);
}

/** Resolves this node's place in the configured validator set; undefined when running solo. */
export function validatorIdentity(cfg: Config): ValidatorIdentity | undefined {
  const set = cfg.consensus.validators;
  if (set.length === 0) return undefined;
  const index = set.findIndex((v) => v.id === cfg.node.id);
  if (index < 0) throw new ConfigError(`config key node.id: "${cfg.node.id}" is not in consensus.validators (${set.map((v) => v.id).join(', ')})`);
  if (!cfg.node.keyFile) throw new ConfigError('config key node.keyFile: a validator needs its key file (set HOTLEDGER_KEY_FILE or node.keyFile)');
  const key = readKeyFile(cfg.node.keyFile);
  const mine = set[index]!;
  if (Buffer.from(key.publicKey).toString('hex') !== mine.publicKey.toLowerCase()) {
    throw new ConfigError(
      `config key node.keyFile: ${cfg.node.keyFile} holds public key ${Buffer.from(key.publicKey).toString('hex')}, consensus.validators lists ${mine.publicKey} for ${mine.id}`,
    );
  }
  const peers = set.map((v, i) => ({ index: i, publicKey: Buffer.from(v.publicKey, 'hex'), host: v.host, port: v.port }));
  return { index, key, peers };
}

/**
 * Other validators a validator must be connected to before it can help form a quorum (it counts
 * itself): the core's quorum size less one. `2 * floor((n - 1) / 3)` agreed only when n = 3f + 1;
 * at 20 validators it said ready one peer short of a quorum.
 */
export function peersForQuorum(validators: number): number {
  return faultTolerance(validators).quorum - 1;
}
