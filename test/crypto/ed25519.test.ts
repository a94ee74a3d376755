import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import * as ed from '@noble/ed25519';
import { sha512 } from '@noble/hashes/sha2.js';
import { verifySignature, sodiumSign, sodiumSecretKey } from '../../src/crypto/ed25519.js';
import { keyPairFromSeed, nobleVerify, sign } from '../../src/crypto/keys.js';

ed.hashes.sha512 = sha512;

interface Vector {
  name: string;
  secretKey: string;
  publicKey: string;
  message: string;
  signature: string;
}
const rfc = JSON.parse(readFileSync(new URL('../fixtures/rfc8032-ed25519.json', import.meta.url), 'utf8')) as { vectors: Vector[] };
const smallOrder = JSON.parse(readFileSync(new URL('../fixtures/ed25519-small-order.json', import.meta.url), 'utf8')) as {
  points: { name: string; hex: string; canonical: boolean }[];
};

const unhex = (s: string): Buffer => Buffer.from(s, 'hex');
/** Group order of the prime-order subgroup. */
const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const leToBig = (b: Uint8Array): bigint => BigInt(`0x${Buffer.from(b).reverse().toString('hex') || '0'}`);
const bigToLe32 = (n: bigint): Buffer => Buffer.from(n.toString(16).padStart(64, '0'), 'hex').reverse();

/** Deterministic PRNG (mulberry32), so every failure is reproducible. */
function prng(seed: number) {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    int: (n: number): number => Math.floor(next() * n),
    bytes: (n: number): Buffer => {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = Math.floor(next() * 256);
      return b;
    },
  };
}

describe('RFC 8032 section 7.1 test vectors', () => {
  it('the fixture holds TEST 1, 2, 3, 1024 and SHA(abc)', () => {
    expect(rfc.vectors.map((v) => v.name)).toEqual(['TEST 1', 'TEST 2', 'TEST 3', 'TEST 1024', 'TEST SHA(abc)']);
    expect(rfc.vectors.map((v) => v.message.length / 2)).toEqual([0, 1, 2, 1023, 64]);
    expect(rfc.vectors[4]!.message).toBe(createHash('sha512').update('abc').digest('hex'));
  });

  for (const v of rfc.vectors) {
    it(`${v.name}: libsodium verifySignature accepts, and rejects one flipped bit`, () => {
      const sig = unhex(v.signature);
      const msg = unhex(v.message);
      const pk = unhex(v.publicKey);
      expect(verifySignature(sig, msg, pk)).toBe(true);
      const badSig = Buffer.from(sig);
      badSig[0]! ^= 1;
      expect(verifySignature(badSig, msg, pk)).toBe(false);
      const badMsg = Buffer.concat([msg, Buffer.of(0)]);
      expect(verifySignature(sig, badMsg, pk)).toBe(false);
    });

    it(`${v.name}: key derivation and signing reproduce the vector (noble and libsodium)`, () => {
      const seed = unhex(v.secretKey);
      const msg = unhex(v.message);
      expect(Buffer.from(keyPairFromSeed(seed).publicKey).toString('hex')).toBe(v.publicKey);
      expect(Buffer.from(sign(msg, seed)).toString('hex')).toBe(v.signature);
      const { publicKey, secretKey } = sodiumSecretKey(seed);
      expect(publicKey.toString('hex')).toBe(v.publicKey);
      expect(secretKey.toString('hex')).toBe(v.secretKey + v.publicKey);
      expect(sodiumSign(msg, secretKey).toString('hex')).toBe(v.signature);
      expect(nobleVerify(unhex(v.signature), msg, unhex(v.publicKey))).toBe(true);
    });
  }
});

describe('verifySignature input handling: false, never a throw', () => {
  const v = rfc.vectors[2]!; // TEST 3: non-empty message
  const sig = unhex(v.signature);
  const msg = unhex(v.message);
  const pk = unhex(v.publicKey);

  it('wrong lengths', () => {
    expect(verifySignature(sig.subarray(0, 63), msg, pk)).toBe(false);
    expect(verifySignature(Buffer.concat([sig, Buffer.of(0)]), msg, pk)).toBe(false);
    expect(verifySignature(sig, msg, pk.subarray(0, 31))).toBe(false);
    expect(verifySignature(sig, msg, Buffer.concat([pk, Buffer.of(0)]))).toBe(false);
    expect(verifySignature(Buffer.alloc(128), msg, pk)).toBe(false);
  });

  it('empty inputs', () => {
    expect(verifySignature(new Uint8Array(0), msg, pk)).toBe(false);
    expect(verifySignature(sig, msg, new Uint8Array(0))).toBe(false);
    expect(verifySignature(sig, new Uint8Array(0), pk)).toBe(false); // signed message is not empty
    expect(verifySignature(new Uint8Array(0), new Uint8Array(0), new Uint8Array(0))).toBe(false);
    // An empty message is legitimate when that is what was signed (TEST 1).
    const t1 = rfc.vectors[0]!;
    expect(verifySignature(unhex(t1.signature), new Uint8Array(0), unhex(t1.publicKey))).toBe(true);
  });

  it('all-zero signature and key', () => {
    expect(verifySignature(Buffer.alloc(64), msg, pk)).toBe(false);
    expect(verifySignature(sig, msg, Buffer.alloc(32))).toBe(false);
  });

  it('non-Uint8Array inputs', () => {
    const call = verifySignature as unknown as (a: unknown, b: unknown, c: unknown) => unknown;
    const wrong: unknown[] = [
      undefined,
      null,
      0,
      v.signature,
      [...sig],
      sig.buffer.slice(sig.byteOffset, sig.byteOffset + 64),
      new DataView(new ArrayBuffer(64)),
      new Uint16Array(32),
      new Uint8ClampedArray(sig),
      { length: 64 },
    ];
    for (const w of wrong) {
      expect(call(w, msg, pk)).toBe(false);
      expect(call(sig, w, pk)).toBe(false);
      expect(call(sig, msg, w)).toBe(false);
    }
  });

  it('SharedArrayBuffer-backed inputs give the right answer (true and false), as a boolean', () => {
    const shared = (b: Uint8Array, pad = 0): Uint8Array => {
      const u = new Uint8Array(new SharedArrayBuffer(b.length + pad * 2), pad, b.length);
      u.set(b);
      return u;
    };
    for (const pad of [0, 3]) {
      expect(verifySignature(shared(sig, pad), msg, pk)).toBe(true);
      expect(verifySignature(sig, shared(msg, pad), pk)).toBe(true);
      expect(verifySignature(sig, msg, shared(pk, pad))).toBe(true);
      expect(verifySignature(shared(sig, pad), shared(msg, pad), shared(pk, pad))).toBe(true);
      const bad = Buffer.from(sig);
      bad[40]! ^= 4;
      expect(verifySignature(shared(bad, pad), shared(msg, pad), shared(pk, pad))).toBe(false);
    }
    // A Buffer view over shared memory is still shared memory.
    const sab = new SharedArrayBuffer(64);
    const view = Buffer.from(sab);
    view.set(sig);
    expect(verifySignature(view, msg, pk)).toBe(true);
  });

  it('views at an offset inside a larger buffer, and non-Buffer Uint8Arrays', () => {
    const big = Buffer.concat([Buffer.alloc(5, 0xaa), sig, Buffer.alloc(7, 0xbb)]);
    expect(verifySignature(big.subarray(5, 69), msg, pk)).toBe(true);
    expect(verifySignature(new Uint8Array(big.buffer, big.byteOffset + 5, 64), Uint8Array.from(msg), Uint8Array.from(pk))).toBe(true);
    expect(verifySignature(big.subarray(4, 68), msg, pk)).toBe(false);
  });

  it('every flipped bit of the signature and the public key, and message bits, are rejected', () => {
    for (let bit = 0; bit < 512; bit++) {
      const s = Buffer.from(sig);
      s[bit >> 3]! ^= 1 << (bit & 7);
      expect(verifySignature(s, msg, pk), `sig bit ${bit}`).toBe(false);
    }
    for (let bit = 0; bit < 256; bit++) {
      const k = Buffer.from(pk);
      k[bit >> 3]! ^= 1 << (bit & 7);
      expect(verifySignature(sig, msg, k), `key bit ${bit}`).toBe(false);
    }
    for (let bit = 0; bit < msg.length * 8; bit++) {
      const m = Buffer.from(msg);
      m[bit >> 3]! ^= 1 << (bit & 7);
      expect(verifySignature(sig, m, pk), `msg bit ${bit}`).toBe(false);
    }
    // Inputs were not modified by the calls.
    expect(sig.toString('hex')).toBe(v.signature);
    expect(verifySignature(sig, msg, pk)).toBe(true);
  });
});

describe('malleability and small-order points (libsodium is the consensus rule)', () => {
  const seed = Buffer.alloc(32, 0x42);
  const kp = keyPairFromSeed(seed);
  const msg = Buffer.from('hotledger malleability test');
  const sig = Buffer.from(sign(msg, seed));

  it('non-canonical S (S + L) is rejected by libsodium and by noble', () => {
    expect(verifySignature(sig, msg, kp.publicKey)).toBe(true);
    const S = leToBig(sig.subarray(32));
    expect(S < L).toBe(true);
    const malleated = Buffer.concat([sig.subarray(0, 32), bigToLe32(S + L)]);
    // The malleated S satisfies the group equation ([S+L]B = [S]B) but is not the canonical encoding.
    expect(malleated.equals(sig)).toBe(false);
    expect(verifySignature(malleated, msg, kp.publicKey)).toBe(false);
    expect(nobleVerify(malleated, msg, kp.publicKey)).toBe(false);
    // S = L exactly, and S with the top bits set.
    expect(verifySignature(Buffer.concat([sig.subarray(0, 32), bigToLe32(L)]), msg, kp.publicKey)).toBe(false);
    expect(verifySignature(Buffer.concat([sig.subarray(0, 32), Buffer.alloc(32, 0xff)]), msg, kp.publicKey)).toBe(false);
  });

  it('the small-order fixture really lists points of order dividing 8', () => {
    expect(smallOrder.points.length).toBe(11);
    for (const p of smallOrder.points) {
      const point = ed.Point.fromBytes(unhex(p.hex), true);
      expect(point.isSmallOrder(), p.name).toBe(true);
      expect(point.multiply(8n, false).is0(), p.name).toBe(true);
      let canonical = true;
      try {
        ed.Point.fromBytes(unhex(p.hex), false);
      } catch {
        canonical = false;
      }
      expect(canonical, p.name).toBe(p.canonical);
    }
  });

  it('small-order public keys are rejected, whatever the signature', () => {
    for (const p of smallOrder.points) {
      const A = unhex(p.hex);
      // With A of small order, R = A and S = 0 satisfies the cofactored equation [8]R + [8][k]A = 0 = [8][S]B
      // for any k, and with R = identity, S = 0 the cofactorless one holds whenever [k]A = 0.
      const candidates = [Buffer.concat([A, Buffer.alloc(32)]), Buffer.concat([unhex(smallOrder.points[0]!.hex), Buffer.alloc(32)]), sig];
      for (const s of candidates) {
        expect(verifySignature(s, msg, A), p.name).toBe(false);
        expect(nobleVerify(s, msg, A), `noble ${p.name}`).toBe(false);
      }
    }
  });

  /**
   * Builds a signature with a chosen R for key `seed`: S = r' + k·a where R = [r']B + T for a
   * small-order T. With T = identity and r' = 0 the *cofactorless* equation [S]B = R + [k]A holds
   * exactly; with T of order 8 only the cofactored one does.
   */
  function signWithR(R: Uint8Array, rScalar: bigint): Buffer {
    const ext = ed.utils.getExtendedPublicKey(seed);
    const k = leToBig(sha512(Buffer.concat([R, ext.pointBytes, msg]))) % L;
    const S = (rScalar + k * ext.scalar) % L;
    return Buffer.concat([R, bigToLe32(S)]);
  }

  it('small-order R is rejected by libsodium; noble (cofactored) accepts it — a documented divergence', () => {
    const identity = unhex('0100000000000000000000000000000000000000000000000000000000000000');
    const withIdentityR = signWithR(identity, 0n);
    // Mathematically valid even for the cofactorless equation: [S]B == R + [k]A.
    const ext = ed.utils.getExtendedPublicKey(seed);
    const k = leToBig(sha512(Buffer.concat([identity, ext.pointBytes, msg]))) % L;
    const lhs = ed.Point.BASE.multiply(leToBig(withIdentityR.subarray(32)));
    expect(lhs.equals(ed.Point.fromBytes(identity).add(ext.point.multiply(k)))).toBe(true);
    expect(verifySignature(withIdentityR, msg, kp.publicKey)).toBe(false);
    expect(nobleVerify(withIdentityR, msg, kp.publicKey)).toBe(true);

    // R = [r]B + T (T of order 8): fails cofactorless (libsodium), passes cofactored (noble).
    const r = 123456789n;
    const T = ed.Point.fromBytes(unhex(smallOrder.points[4]!.hex));
    const R = ed.Point.BASE.multiply(r).add(T).toBytes();
    const mixed = signWithR(R, r);
    expect(verifySignature(mixed, msg, kp.publicKey)).toBe(false);
    expect(nobleVerify(mixed, msg, kp.publicKey)).toBe(true);

    // Pure order-8 R with S = k·a.
    for (const p of smallOrder.points.filter((x) => x.canonical)) {
      const s = signWithR(unhex(p.hex), 0n);
      expect(verifySignature(s, msg, kp.publicKey), p.name).toBe(false);
    }
    // Control: the same construction with an honest R = [r]B verifies on both.
    const honest = signWithR(ed.Point.BASE.multiply(r).toBytes(), r);
    expect(verifySignature(honest, msg, kp.publicKey)).toBe(true);
    expect(nobleVerify(honest, msg, kp.publicKey)).toBe(true);
  });

  it('non-canonical public key encoding (y >= p) of an ordinary point is rejected', () => {
    // Find a small y (< 19) that is the y of an ordinary point; p + y (< 2^255) encodes it non-canonically.
    const p = 2n ** 255n - 19n;
    let y = 2n;
    for (; y < 19n; y++) {
      try {
        if (!ed.Point.fromBytes(bigToLe32(y), false).isSmallOrder()) break;
      } catch {
        /* not on the curve */
      }
    }
    expect(y < 19n).toBe(true);
    const enc = bigToLe32(p + y);
    expect(ed.Point.fromBytes(enc, true).equals(ed.Point.fromBytes(bigToLe32(y), false))).toBe(true);
    expect(() => ed.Point.fromBytes(enc, false)).toThrow();
    expect(verifySignature(sig, msg, enc)).toBe(false);
    expect(nobleVerify(sig, msg, enc)).toBe(false);
  });
});

describe('noble and libsodium agree on honest signatures and simple mutations', () => {
  it('2000 random key/message pairs, each honest and once mutated', () => {
    const rnd = prng(20240607);
    let honest = 0;
    let mutated = 0;
    for (let i = 0; i < 2000; i++) {
      const { publicKey, secretKey } = sodiumSecretKey(rnd.bytes(32));
      const msg = rnd.bytes(rnd.int(200));
      const sig = sodiumSign(msg, secretKey);
      expect(verifySignature(sig, msg, publicKey)).toBe(true);
      expect(nobleVerify(sig, msg, publicKey)).toBe(true);
      honest++;

      const s = Buffer.from(sig);
      const m = Buffer.from(msg);
      const k = Buffer.from(publicKey);
      const what = rnd.int(msg.length > 0 ? 4 : 3);
      if (what === 0)
        s[rnd.int(32)]! ^= 1 << rnd.int(8); // R
      else if (what === 1)
        s[32 + rnd.int(32)]! ^= 1 << rnd.int(8); // S
      else if (what === 2) k[rnd.int(32)]! ^= 1 << rnd.int(8);
      else m[rnd.int(m.length)]! ^= 1 << rnd.int(8);
      const a = verifySignature(s, m, k);
      const b = nobleVerify(s, m, k);
      expect(b, `iteration ${i}, mutation ${what}`).toBe(a);
      expect(a).toBe(false);
      mutated++;
    }
    expect(honest).toBe(2000);
    expect(mutated).toBe(2000);
  }, 180_000); // ~4000 pure-JS noble verifies: ~10-20 s on a busy 2-core box

  it('nobleVerify never throws on malformed input', () => {
    const call = nobleVerify as unknown as (a: unknown, b: unknown, c: unknown) => unknown;
    expect(call(new Uint8Array(3), new Uint8Array(0), new Uint8Array(32))).toBe(false);
    expect(call(new Uint8Array(64), new Uint8Array(0), new Uint8Array(5))).toBe(false);
    expect(call(null, undefined, 7)).toBe(false);
  });
});
