import { Ed25519ConsensusCrypto, type ConsensusCrypto } from '../consensus/crypto.js';
import { sodiumSecretKey } from '../crypto/ed25519.js';
import { Prng } from './prng.js';

/**
 * Fast deterministic stand-in for Ed25519, an ideal signature functionality: sign() returns 64
 * fresh pseudo-random bytes and records (signer, message) under them; verify() accepts exactly the
 * triples that sign() issued. Each node gets only its own signer, so Byzantine code cannot produce
 * another validator's signature (it would have to guess 64 random bytes it never saw). No hashing
 * at all, which is what lets 1000 seeds run in seconds; the PRNG is private to the set so signing
 * does not perturb the simulator's fault schedule.
 */
export function idealCryptoSet(seed: number, n: number): ConsensusCrypto[] {
  const rng = new Prng(seed ^ 0x5eed_c0de);
  const issued = new Map<string, { index: number; msg: Buffer }>();
  const verify = (index: number, msg: Uint8Array, sig: Uint8Array): boolean => {
    if (sig.length !== 64) return false;
    const rec = issued.get(Buffer.from(sig.buffer, sig.byteOffset, sig.length).toString('latin1'));
    return rec !== undefined && rec.index === index && rec.msg.equals(msg);
  };
  return Array.from({ length: n }, (_, index) => ({
    sign: (msg: Uint8Array) => {
      const tag = rng.bytes(64);
      issued.set(Buffer.from(tag.buffer).toString('latin1'), { index, msg: Buffer.from(msg) });
      return tag;
    },
    verify,
  }));
}

/** The production libsodium implementation with keys derived from the seed. */
export function ed25519CryptoSet(seed: number, n: number): ConsensusCrypto[] {
  const rng = new Prng(seed ^ 0x0ed2_5519);
  const seeds = Array.from({ length: n }, () => rng.bytes(32));
  const publicKeys = seeds.map((s) => new Uint8Array(sodiumSecretKey(s).publicKey));
  return seeds.map((s) => new Ed25519ConsensusCrypto(s, publicKeys));
}
