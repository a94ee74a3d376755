import type { Config } from '../config/schema.js';
import { ConfigError } from '../errors.js';
import { readKeyFile, type KeyPair } from '../crypto/keys.js';
import { publicDerivedKeyPair } from '../workload/generate.js';
import type { PeerInfo } from '../network/index.js';
import { faultTolerance } from '../consensus/index.js';

/**
 * This node's place among the members of a chain: the validators (indices 0..n-1, config order)
 * and the followers, business and slim nodes (indices n.., `consensus.followers` order). The
 * index is the one the peer transport authenticates, so it is the same on every node.
 */
export interface MemberIdentity {
  role: 'validator' | 'business' | 'slim';
  /** This node's member index. */
  index: number;
  key: KeyPair;
  /** The voting set: n = validators.length, the quorum is the core's. */
  validators: PeerInfo[];
  /** Non-voting members, indices n.. */
  followers: PeerInfo[];
  /**
   * Whom this node links to (its own entry included): a validator links to every member, a
   * follower to the validators only (followers never talk to each other).
   */
  links: PeerInfo[];
}

/**
 * Public, insecure validator keys for local clusters (`hotledger cluster`, tests), derived like
 * devnet accounts so every process agrees on the set without exchanging files.
 */
export function devnetValidatorKey(chainId: number, index: number): KeyPair {
  return publicDerivedKeyPair('hotledger/devnet-validator/v1\0', chainId, index);
}

/** Public, insecure keys of a local cluster's business and slim nodes (`hotledger cluster`, tests). */
export function devnetFollowerKey(chainId: number, index: number): KeyPair {
  return publicDerivedKeyPair('hotledger/devnet-follower/v1\0', chainId, index);
}

/** Resolves this node's place among the members; undefined for a solo validator (no validator set). */
export function memberIdentity(cfg: Config): MemberIdentity | undefined {
  const set = cfg.consensus.validators;
  if (set.length === 0) return undefined;
  const role = cfg.node.role;
  const list = role === 'validator' ? 'validators' : 'followers';
  const mine = cfg.consensus[list];
  const at = mine.findIndex((v) => v.id === cfg.node.id);
  if (at < 0) throw new ConfigError(`config key node.id: "${cfg.node.id}" is not in consensus.${list} (${mine.map((v) => v.id).join(', ')})`);
  if (!cfg.node.keyFile) throw new ConfigError(`config key node.keyFile: a ${role} node needs its key file (set HOTLEDGER_KEY_FILE or node.keyFile)`);
  const key = readKeyFile(cfg.node.keyFile);
  const entry = mine[at]!;
  if (Buffer.from(key.publicKey).toString('hex') !== entry.publicKey.toLowerCase()) {
    throw new ConfigError(
      `config key node.keyFile: ${cfg.node.keyFile} holds public key ${Buffer.from(key.publicKey).toString('hex')}, consensus.${list} lists ${entry.publicKey} for ${entry.id}`,
    );
  }
  const info = (v: { publicKey: string; host: string; port: number }, index: number): PeerInfo => ({
    index,
    publicKey: Buffer.from(v.publicKey, 'hex'),
    host: v.host,
    port: v.port,
  });
  const validators = set.map((v, i) => info(v, i));
  const followers = cfg.consensus.followers.map((v, j) => info(v, set.length + j));
  const index = role === 'validator' ? at : set.length + at;
  const links = role === 'validator' ? [...validators, ...followers] : [...validators, followers[at]!];
  return { role, index, key, validators, followers, links };
}

/**
 * Other validators a validator must be connected to before it can help form a quorum (it counts
 * itself): the core's quorum size less one. `2 * floor((n - 1) / 3)` agreed only when n = 3f + 1;
 * at 20 validators it said ready one peer short of a quorum.
 */
export function peersForQuorum(validators: number): number {
  return faultTolerance(validators).quorum - 1;
}
