import { describe, expect, it } from 'vitest';
import { FrameDecoder, FrameKind, createCodec, frameHeader } from '../../src/network/frame.js';
import { SendQueue } from '../../src/network/send-queue.js';
import { HANDSHAKE_TAG, TRANSCRIPT_BYTES, signTranscript, transcript, verifyTranscript } from '../../src/network/handshake.js';
import { NetworkError } from '../../src/network/errors.js';
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
  const f = (n: number, tag = 0) => ({ header: Buffer.alloc(5, tag), body: Buffer.alloc(n, tag) });

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
      for (let i = 0; i < 3000; i++) q.push({ header: Buffer.alloc(0), body: Buffer.from([next++ & 0xff]) });
      while (q.length > 100) if (q.shift()!.body[0] !== (expectNext++ & 0xff)) mismatches++;
    }
    expect(mismatches).toBe(0);
    expect(expectNext).toBe(50 * 3000 - 100);
    expect(q.length).toBe(100);
    expect(q.bytes).toBe(100);
  });
});

describe('handshake transcript', () => {
  const a = new Uint8Array(32).fill(0xaa);
  const b = new Uint8Array(32).fill(0xbb);

  it('has the documented layout', () => {
    const t = transcript({ chainId: 0x01020304, version: 1, verifierChallenge: a, signerChallenge: b, signerIndex: 5, verifierIndex: 6 });
    expect(t.length).toBe(TRANSCRIPT_BYTES);
    expect(t.length).toBe(106);
    expect(t.subarray(0, 28).toString('latin1')).toBe('hotledger/peer-handshake/v1\0');
    expect(HANDSHAKE_TAG.length).toBe(28);
    expect(t.subarray(28, 34).toString('hex')).toBe('010203040001');
    expect(t.subarray(34, 66)).toEqual(Buffer.from(a));
    expect(t.subarray(66, 98)).toEqual(Buffer.from(b));
    expect(t.subarray(98).toString('hex')).toBe('0000000500000006');
  });

  it('binds the direction: a signature does not verify for the reverse transcript', () => {
    const [k] = makeKeys(1);
    const sk = sodiumSecretKey(k!.seed).secretKey;
    const fwd = transcript({ chainId: 7, version: 1, verifierChallenge: a, signerChallenge: b, signerIndex: 1, verifierIndex: 2 });
    const rev = transcript({ chainId: 7, version: 1, verifierChallenge: b, signerChallenge: a, signerIndex: 2, verifierIndex: 1 });
    const other = transcript({ chainId: 8, version: 1, verifierChallenge: a, signerChallenge: b, signerIndex: 1, verifierIndex: 2 });
    const sig = signTranscript(fwd, sk);
    expect(verifyTranscript(sig, fwd, k!.publicKey)).toBe(true);
    expect(verifyTranscript(sig, rev, k!.publicKey)).toBe(false);
    expect(verifyTranscript(sig, other, k!.publicKey)).toBe(false);
  });
});
