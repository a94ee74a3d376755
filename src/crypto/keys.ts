import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync, mkdirSync, chmodSync } from 'node:fs';
import { dirname } from 'node:path';
import { HotledgerError } from '../errors.js';

// noble's sync API needs a sha512 implementation wired in once.
ed.hashes.sha512 = sha512;

/** An Ed25519 key pair; `seed` is the 32-byte RFC 8032 secret key. */
export interface KeyPair {
  seed: Uint8Array;
  publicKey: Uint8Array;
}

export function generateKeyPair(): KeyPair {
  return keyPairFromSeed(randomBytes(32));
}

export function keyPairFromSeed(seed: Uint8Array): KeyPair {
  if (seed.length !== 32) throw new HotledgerError('BAD_REQUEST', 'an Ed25519 seed is 32 bytes');
  return { seed: Uint8Array.from(seed), publicKey: ed.getPublicKey(seed) };
}

/** Signing for clients, the CLI and tests: pure JS, never on the node's hot path. */
export function sign(message: Uint8Array, seed: Uint8Array): Uint8Array {
  return ed.sign(message, seed);
}

/** noble's own verification, used only to cross-check libsodium in tests. */
export function nobleVerify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  try {
    return ed.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

/** Key file: JSON `{ "publicKey": hex, "secretKey": hex(seed) }`, written mode 0600. */
export interface KeyFile {
  publicKey: string;
  secretKey: string;
}

export function writeKeyFile(path: string, kp: KeyPair): void {
  mkdirSync(dirname(path), { recursive: true });
  const body: KeyFile = { publicKey: Buffer.from(kp.publicKey).toString('hex'), secretKey: Buffer.from(kp.seed).toString('hex') };
  writeFileSync(path, JSON.stringify(body, null, 2) + '\n', { mode: 0o600 });
  // `mode` only applies when the file is created: tighten an existing file's permissions too.
  chmodSync(path, 0o600);
}

export function readKeyFile(path: string): KeyPair {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new HotledgerError('BAD_REQUEST', `cannot read key file ${path}: ${(e as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new HotledgerError('BAD_REQUEST', `key file ${path} is not a JSON object`);
  }
  const f = parsed as Partial<Record<keyof KeyFile, unknown>>;
  if (f.publicKey !== undefined && typeof f.publicKey !== 'string') {
    throw new HotledgerError('BAD_REQUEST', `key file ${path}: publicKey must be a hex string`);
  }
  if (typeof f.secretKey !== 'string' || !/^[0-9a-f]{64}$/i.test(f.secretKey)) {
    throw new HotledgerError('BAD_REQUEST', `key file ${path} has no 64-hex-digit secretKey`);
  }
  const kp = keyPairFromSeed(Buffer.from(f.secretKey, 'hex'));
  if (typeof f.publicKey === 'string' && f.publicKey.toLowerCase() !== Buffer.from(kp.publicKey).toString('hex')) {
    throw new HotledgerError('BAD_REQUEST', `key file ${path}: publicKey does not match secretKey`);
  }
  return kp;
}
