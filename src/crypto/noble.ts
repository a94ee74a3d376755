import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import { HotledgerError } from '../errors.js';

// Pure-JS Ed25519 (noble), no node: import: the browser client signs with this. The node's own
// verification is libsodium (ed25519.ts); key files live in keys.ts.

// noble's sync API needs a sha512 implementation wired in once.
ed.hashes.sha512 = sha512;

/** An Ed25519 key pair; `seed` is the 32-byte RFC 8032 secret key. */
export interface KeyPair {
  seed: Uint8Array;
  publicKey: Uint8Array;
}

/** A fresh key from the platform's CSPRNG (Web Crypto getRandomValues, in browsers and Node alike). */
export function generateKeyPair(): KeyPair {
  return keyPairFromSeed(crypto.getRandomValues(new Uint8Array(32)));
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
