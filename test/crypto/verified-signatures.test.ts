import { describe, expect, it } from 'vitest';
import { Ed25519ConsensusCrypto } from '../../src/consensus/crypto.js';
import { sodiumSecretKey, sodiumSign } from '../../src/crypto/ed25519.js';
import { VerifiedSignatures, processSignatures, verifyOnce } from '../../src/crypto/verified-signatures.js';

const verifyOnceStats = () => ({ hits: processSignatures.hits, misses: processSignatures.misses });

const key = sodiumSecretKey(new Uint8Array(32).fill(7));
const msg = (s: string) => new TextEncoder().encode(s);

describe('verifyOnce: consensus signatures verified once per process', () => {
  it('answers a repeated (key, message, signature) from memory, and only a success', () => {
    const m = msg(`vote ${Math.random()}`);
    const sig = new Uint8Array(sodiumSign(m, key.secretKey));
    const before = verifyOnceStats();
    expect(verifyOnce(sig, m, key.publicKey)).toBe(true);
    expect(verifyOnce(sig, m, key.publicKey)).toBe(true);
    const after = verifyOnceStats();
    expect(after.misses - before.misses).toBe(1);
    expect(after.hits - before.hits).toBe(1);
    // A bad signature is never remembered: asked twice, it is verified (and refused) twice.
    const bad = Uint8Array.from(sig);
    bad[10]! ^= 1;
    expect(verifyOnce(bad, m, key.publicKey)).toBe(false);
    expect(verifyOnce(bad, m, key.publicKey)).toBe(false);
    expect(verifyOnceStats().misses - after.misses).toBe(2);
  });

  it('a remembered signature proves nothing for other bytes or another key', () => {
    const m = msg(`proposal ${Math.random()}`);
    const sig = new Uint8Array(sodiumSign(m, key.secretKey));
    expect(verifyOnce(sig, m, key.publicKey)).toBe(true);
    expect(verifyOnce(sig, msg('another message'), key.publicKey)).toBe(false);
    const other = sodiumSecretKey(new Uint8Array(32).fill(8));
    expect(verifyOnce(sig, m, other.publicKey)).toBe(false);
    expect(verifyOnce(sig.subarray(0, 63), m, key.publicKey)).toBe(false);
  });

  it('stays bounded, forgetting the oldest first', () => {
    const v = new VerifiedSignatures(100);
    const signed = Array.from({ length: 150 }, (_, i) => {
      const m = msg(`n ${i}`);
      return { m, sig: new Uint8Array(sodiumSign(m, key.secretKey)) };
    });
    for (const { m, sig } of signed) v.verify(sig, m, key.publicKey);
    expect(v.size).toBe(100);
    const misses = v.misses;
    v.verify(signed[149]!.sig, signed[149]!.m, key.publicKey); // recent: remembered
    expect(v.misses).toBe(misses);
    v.verify(signed[0]!.sig, signed[0]!.m, key.publicKey); // oldest: forgotten, verified again
    expect(v.misses).toBe(misses + 1);
  });

  it("co-hosted validators' consensus crypto shares it: a vote two nodes of one process receive is verified once", () => {
    const seeds = [1, 2].map((i) => new Uint8Array(32).fill(40 + i));
    const pks = seeds.map((s) => sodiumSecretKey(s).publicKey);
    const [a, b] = seeds.map((s) => new Ed25519ConsensusCrypto(s, pks));
    const m = msg(`batch vote ${Math.random()}`);
    const sig = a!.sign(m);
    const before = processSignatures.misses;
    expect(a!.verify(0, m, sig)).toBe(true);
    expect(b!.verify(0, m, sig)).toBe(true);
    expect(processSignatures.misses - before).toBe(1);
    expect(b!.verify(1, m, sig)).toBe(false); // not validator 1's signature
  });
});
