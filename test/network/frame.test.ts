import { describe, expect, it } from 'vitest';
import { FRAME_HEADER_BYTES, FrameDecoder, FrameKind, createCodec, frameHeader } from '../../src/network/frame.js';
import { SendQueue } from '../../src/network/send-queue.js';
import {
  HANDSHAKE_TAG,
  HELLO_BYTES,
  PROTOCOL_VERSION,
  TRANSCRIPT_BYTES,
  decodeHello,
  encodeHello,
  signTranscript,
  transcript,
  verifyTranscript,
} from '../../src/network/handshake.js';
import { AEAD_TAG_BYTES, KxKeyPair, SealedChannel } from '../../src/network/channel.js';
import type { NetworkError } from '../../src/network/errors.js';
import { makeKeys } from './helpers.js';
import { sodiumSecretKey } from '../../src/crypto/ed25519.js';

const frame = (kind: number, body: Buffer) => Buffer.concat([frameHeader(kind as FrameKind, body.length), body]);

describe('FrameDecoder', () => {
  it('reassembles frames split at every byte and several frames per chunk', () => {
    const bodies = [Buffer.from('a'), Buffer.alloc(0), Buffer.alloc(3000, 7), Buffer.from('last')];
    const wire = Buffer.concat(bodies.map((b, i) => frame(i === 1 ? FrameKind.PING : FrameKind.DATA, b)));
    for (const step of [1, 2, 3, 5, 4096]) {
      const d = new FrameDecoder(1 << 20);
      const out: { kind: number; body: Buffer }[] = [];
      for (let i = 0; i < wire.length; i += step) {
        d.push(wire.subarray(i, i + step));
        for (let f = d.next(); f; f = d.next()) out.push({ kind: f.kind, body: Buffer.from(f.body) });
      }
      expect(out.map((f) => f.body)).toEqual(bodies);
      expect(out.map((f) => f.kind)).toEqual([FrameKind.DATA, FrameKind.PING, FrameKind.DATA, FrameKind.DATA]);
      expect(d.bufferedBytes).toBe(0);
    }
  });

  it('rejects a prefix above the limit before the body arrives, and a zero-length frame', () => {
    const d = new FrameDecoder(100);
    d.push(frameHeader(FrameKind.DATA, 101).subarray(0, 4));
    expect(() => d.next()).toThrow(expect.objectContaining({ code: 'FRAME_TOO_LARGE' }) as NetworkError);
    const z = new FrameDecoder(100);
    z.push(Buffer.alloc(4));
    expect(() => z.next()).toThrow(expect.objectContaining({ code: 'PROTOCOL_ERROR' }) as NetworkError);
    const ok = new FrameDecoder(100);
    ok.push(frame(FrameKind.DATA, Buffer.alloc(100)));
    expect(ok.next()!.body.length).toBe(100);
  });
});

describe('codec', () => {
  it('does not overwrite earlier encodings (queued frames stay intact)', () => {
    const c = createCodec();
    const kept = Array.from({ length: 2000 }, (_, i) => ({ i, buf: c.pack({ i, s: 'x'.repeat(i % 50) }) }));
    for (const k of kept) expect(c.unpack(k.buf)).toEqual({ i: k.i, s: 'x'.repeat(k.i % 50) });
  });
});

describe('SendQueue', () => {
  // Each frame accounts for its 5-byte header plus its plaintext body.
  const f = (n: number, tag = 0) => ({ kind: FrameKind.DATA, body: Buffer.alloc(n, tag) });

  it('drops the oldest when the count bound is hit', () => {
    const q = new SendQueue(3, 1 << 20);
    for (let i = 0; i < 5; i++) q.push(f(10, i));
    expect(q.length).toBe(3);
    expect(q.dropped).toBe(2);
    expect([q.shift()!.body[0], q.shift()!.body[0], q.shift()!.body[0]]).toEqual([2, 3, 4]);
    expect(q.bytes).toBe(0);
  });

  it('drops the oldest when the byte bound is hit, and refuses a frame larger than the bound', () => {
    const q = new SendQueue(1000, 100);
    for (let i = 0; i < 10; i++) q.push(f(25, i)); // 30 bytes each: three fit
    expect(q.length).toBe(3);
    expect(q.bytes).toBe(90);
    expect(q.peek()!.body[0]).toBe(7);
    expect(q.push(f(96))).toBe(false);
    expect(q.length).toBe(3);
    expect(q.dropped).toBe(8);
  });

  it('stays consistent over many push/shift cycles', () => {
    const q = new SendQueue(5000, 1 << 30);
    let next = 0;
    let expectNext = 0;
    let mismatches = 0;
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 3000; i++) q.push({ kind: FrameKind.DATA, body: Buffer.from([next++ & 0xff]) });
      while (q.length > 100) if (q.shift()!.body[0] !== (expectNext++ & 0xff)) mismatches++;
    }
    expect(mismatches).toBe(0);
    expect(expectNext).toBe(50 * 3000 - 100);
    expect(q.length).toBe(100);
    expect(q.bytes).toBe(600);
  });
});

describe('handshake transcript', () => {
  const a = new Uint8Array(32).fill(0xaa);
  const b = new Uint8Array(32).fill(0xbb);
  const ka = new Uint8Array(32).fill(0xa1);
  const kb = new Uint8Array(32).fill(0xb1);

  it('has the documented layout', () => {
    const t = transcript({ chainId: 0x01020304, version: 2, verifierChallenge: a, signerChallenge: b, signerIndex: 5, verifierIndex: 6, verifierKx: ka, signerKx: kb });
    expect(t.length).toBe(TRANSCRIPT_BYTES);
    expect(t.length).toBe(170);
    expect(t.subarray(0, 28).toString('latin1')).toBe('hotledger/peer-handshake/v2\0');
    expect(HANDSHAKE_TAG.length).toBe(28);
    expect(t.subarray(28, 34).toString('hex')).toBe('010203040002');
    expect(t.subarray(34, 66)).toEqual(Buffer.from(a));
    expect(t.subarray(66, 98)).toEqual(Buffer.from(b));
    expect(t.subarray(98, 106).toString('hex')).toBe('0000000500000006');
    expect(t.subarray(106, 138)).toEqual(Buffer.from(ka));
    expect(t.subarray(138, 170)).toEqual(Buffer.from(kb));
  });

  it('binds the direction and both key-exchange keys: a signature does not verify for any other transcript', () => {
    const [k] = makeKeys(1);
    const sk = sodiumSecretKey(k!.seed).secretKey;
    const base = { chainId: 7, version: 2, verifierChallenge: a, signerChallenge: b, signerIndex: 1, verifierIndex: 2, verifierKx: ka, signerKx: kb };
    const fwd = transcript(base);
    const sig = signTranscript(fwd, sk);
    expect(verifyTranscript(sig, fwd, k!.publicKey)).toBe(true);
    const variants = [
      { ...base, verifierChallenge: b, signerChallenge: a, signerIndex: 2, verifierIndex: 1, verifierKx: kb, signerKx: ka }, // reversed
      { ...base, chainId: 8 },
      { ...base, version: 1 },
      { ...base, signerKx: new Uint8Array(32).fill(0xee) }, // relay swapped in its own key
      { ...base, verifierKx: new Uint8Array(32).fill(0xee) },
    ];
    for (const v of variants) expect(verifyTranscript(sig, transcript(v), k!.publicKey)).toBe(false);
  });
});

describe('HELLO', () => {
  it('has the documented 106-byte layout and refuses another version before its length', () => {
    const h = {
      version: PROTOCOL_VERSION,
      chainId: 7,
      index: 3,
      publicKey: Buffer.alloc(32, 1),
      challenge: Buffer.alloc(32, 2),
      kxPublicKey: Buffer.alloc(32, 3),
    };
    const b = encodeHello(h);
    expect(b.length).toBe(HELLO_BYTES);
    expect(b.length).toBe(106);
    expect(b.subarray(0, 10).toString('hex')).toBe('00020000000700000003');
    expect(b.subarray(74)).toEqual(Buffer.alloc(32, 3));
    expect(decodeHello(b)).toEqual(h);
    const v1 = Buffer.alloc(74);
    v1.writeUInt16BE(1, 0);
    expect(() => decodeHello(v1)).toThrow(expect.objectContaining({ code: 'PROTOCOL_VERSION' }) as NetworkError);
  });
});

describe('SealedChannel', () => {
  const pair = () => {
    const ck = new KxKeyPair();
    const sk = new KxKeyPair();
    const c = ck.deriveSessionKeys(true, sk.publicKey);
    const s = sk.deriveSessionKeys(false, ck.publicKey);
    return { client: new SealedChannel(c.tx, c.rx), server: new SealedChannel(s.tx, s.rx) };
  };
  const body = (wire: Buffer) => wire.subarray(FRAME_HEADER_BYTES);
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (e) {
      return (e as NetworkError).code;
    }
    return 'no throw';
  };

  it('round-trips frames in both directions with per-direction counters and a 16-byte tag', () => {
    const { client, server } = pair();
    for (let i = 0; i < 5; i++) {
      const w = client.seal(FrameKind.DATA, Buffer.from(`c${i}`));
      expect(w.length).toBe(FRAME_HEADER_BYTES + 2 + AEAD_TAG_BYTES);
      expect(w.readUInt32BE(0)).toBe(1 + 2 + AEAD_TAG_BYTES);
      expect(server.open(w[4]!, body(w)).toString()).toBe(`c${i}`);
      const r = server.seal(FrameKind.PING, Buffer.alloc(0));
      expect(client.open(r[4]!, body(r)).length).toBe(0);
    }
    // The same plaintext never gives the same ciphertext twice (the counter moves the nonce).
    const x = client.seal(FrameKind.DATA, Buffer.from('same'));
    const y = client.seal(FrameKind.DATA, Buffer.from('same'));
    expect(body(x).equals(body(y))).toBe(false);
  });

  it('refuses a flipped byte, a changed kind, a replay, a reordering, a truncation and a foreign key', () => {
    const fresh = () => pair();
    let p = fresh();
    const w = p.client.seal(FrameKind.DATA, Buffer.from('hello world'));
    const flipped = Buffer.from(body(w));
    flipped[3] = flipped[3]! ^ 1;
    expect(code(() => p.server.open(FrameKind.DATA, flipped))).toBe('FRAME_AUTH_FAILED');
    expect(code(() => p.server.open(FrameKind.PING, Buffer.from(body(w))))).toBe('FRAME_AUTH_FAILED');
    // (copies: open() decrypts in place, and libsodium zeroes the buffer of a frame that fails)
    expect(code(() => p.server.open(FrameKind.DATA, Buffer.from(body(w).subarray(0, body(w).length - 1))))).toBe('FRAME_AUTH_FAILED');
    expect(code(() => p.server.open(FrameKind.DATA, Buffer.alloc(5)))).toBe('FRAME_AUTH_FAILED');
    // A failed frame does not advance the counter: the genuine one still opens.
    expect(p.server.open(FrameKind.DATA, Buffer.from(body(w))).toString()).toBe('hello world');
    expect(code(() => p.server.open(FrameKind.DATA, Buffer.from(body(w))))).toBe('FRAME_AUTH_FAILED'); // replay

    p = fresh();
    const w1 = p.client.seal(FrameKind.DATA, Buffer.from('one'));
    const w2 = p.client.seal(FrameKind.DATA, Buffer.from('two'));
    expect(code(() => p.server.open(FrameKind.DATA, Buffer.from(body(w2))))).toBe('FRAME_AUTH_FAILED'); // reordered
    expect(p.server.open(FrameKind.DATA, body(w1)).toString()).toBe('one');

    const other = fresh();
    const forged = other.client.seal(FrameKind.DATA, Buffer.from('forged'));
    expect(code(() => fresh().server.open(FrameKind.DATA, body(forged)))).toBe('FRAME_AUTH_FAILED');
    // Own frames cannot be reflected: the two directions use different keys.
    const q = fresh();
    const mine = q.client.seal(FrameKind.DATA, Buffer.from('mine'));
    expect(code(() => q.client.open(FrameKind.DATA, body(mine)))).toBe('FRAME_AUTH_FAILED');
  });
});
