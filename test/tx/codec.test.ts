import { describe, it, expect } from 'vitest';
import { createHash } from 'node:crypto';
import { keyPairFromSeed } from '../../src/crypto/keys.js';
import { verifySignature } from '../../src/crypto/ed25519.js';
import { readU32, readU53, txAt, writeU32, writeU53 } from '../../src/tx/codec.js';
import { decodeTransfer, encodeUnsigned, signingMessage, txId, type UnsignedTransfer } from '../../src/tx/transaction.js';
import { signTransfer } from '../../src/tx/sign.js';
import {
  KEY_SIZE,
  MAX_AMOUNT,
  Off,
  REFERENCE_SIZE,
  SIGNATURE_SIZE,
  SIGNING_DOMAIN,
  SIGNING_MESSAGE_SIZE,
  TX_BODY_SIZE,
  TX_ID_SIZE,
  TX_KIND_TRANSFER,
  TX_SIZE,
  TX_VERSION,
} from '../../src/tx/layout.js';
import { HotledgerError } from '../../src/errors.js';

const alice = keyPairFromSeed(new Uint8Array(32).fill(0xa1));
const bob = keyPairFromSeed(new Uint8Array(32).fill(0xb0));

function transfer(over: Partial<UnsignedTransfer> = {}): UnsignedTransfer {
  return {
    chainId: 7,
    sender: alice.publicKey,
    recipient: bob.publicKey,
    amount: 5_000,
    nonce: 3,
    reference: Uint8Array.from({ length: 16 }, (_, i) => i + 1),
    ...over,
  };
}

const sigOf = (tx: Uint8Array, at = 0) => tx.subarray(at + Off.SIGNATURE, at + Off.SIGNATURE + SIGNATURE_SIZE);
const senderOf = (tx: Uint8Array, at = 0) => tx.subarray(at + Off.SENDER, at + Off.SENDER + KEY_SIZE);

describe('layout constants', () => {
  it('describe one contiguous 168-byte record', () => {
    expect(TX_SIZE).toBe(168);
    expect(TX_BODY_SIZE).toBe(104);
    expect(Off).toEqual({ VERSION: 0, KIND: 1, FLAGS: 2, CHAIN_ID: 4, SENDER: 8, RECIPIENT: 40, AMOUNT: 72, NONCE: 80, REFERENCE: 88, SIGNATURE: 104 });
    expect(Off.SENDER + KEY_SIZE).toBe(Off.RECIPIENT);
    expect(Off.RECIPIENT + KEY_SIZE).toBe(Off.AMOUNT);
    expect(Off.REFERENCE + REFERENCE_SIZE).toBe(TX_BODY_SIZE);
    expect(Off.SIGNATURE).toBe(TX_BODY_SIZE);
    expect(Off.SIGNATURE + SIGNATURE_SIZE).toBe(TX_SIZE);
    expect(TX_ID_SIZE).toBe(32);
    expect(MAX_AMOUNT).toBe(2 ** 53 - 1);
  });

  it('domain tag is the 16 bytes "hotledger/tx/v1\\0"', () => {
    expect(SIGNING_DOMAIN.length).toBe(16);
    expect(Buffer.from(SIGNING_DOMAIN).toString('hex')).toBe('686f746c65646765722f74782f763100');
    expect(SIGNING_MESSAGE_SIZE).toBe(120);
  });
});

describe('u53 / u32 little-endian helpers', () => {
  it('round-trip edge values and write little-endian bytes', () => {
    const buf = new Uint8Array(12);
    for (const v of [0, 1, 255, 256, 0xffff_ffff, 2 ** 32, 2 ** 32 + 1, 2 ** 48 + 5, MAX_AMOUNT]) {
      buf.fill(0xee);
      writeU53(buf, 2, v);
      expect(readU53(buf, 2)).toBe(v);
      expect(buf[0]).toBe(0xee); // neighbours untouched
      expect(buf[10]).toBe(0xee);
      expect(new DataView(buf.buffer).getBigUint64(2, true)).toBe(BigInt(v));
    }
    writeU53(buf, 0, 0x0102_0304_0506);
    expect(Buffer.from(buf.subarray(0, 8)).toString('hex')).toBe('0605040302010000');
  });

  it('readU53 returns -1 for values >= 2^53 instead of an inexact number', () => {
    const buf = new Uint8Array(8);
    const dv = new DataView(buf.buffer);
    for (const v of [2n ** 53n, 2n ** 53n + 1n, 2n ** 60n, 2n ** 64n - 1n, 0x0020_0000_0000_0000n]) {
      dv.setBigUint64(0, v, true);
      expect(readU53(buf, 0)).toBe(-1);
    }
    dv.setBigUint64(0, 2n ** 53n - 1n, true);
    expect(readU53(buf, 0)).toBe(MAX_AMOUNT);
    // hi word with the top bit set must not go negative through the bit operators.
    dv.setBigUint64(0, 0x8000_0000_0000_0000n, true);
    expect(readU53(buf, 0)).toBe(-1);
    dv.setBigUint64(0, 0x0000_0000_8000_0000n, true);
    expect(readU53(buf, 0)).toBe(2 ** 31);
  });

  it('writeU53 throws RangeError on anything but a safe non-negative integer', () => {
    const buf = new Uint8Array(8);
    for (const bad of [-1, 2 ** 53, 2 ** 53 + 2, 1.5, Number.NaN, Number.POSITIVE_INFINITY, -0.5]) {
      expect(() => writeU53(buf, 0, bad)).toThrow(RangeError);
    }
    expect(Buffer.from(buf).toString('hex')).toBe('0000000000000000'); // nothing written on failure
  });

  it('u32 round trip, little-endian', () => {
    const buf = new Uint8Array(4);
    for (const v of [0, 1, 1337, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff]) {
      writeU32(buf, 0, v);
      expect(readU32(buf, 0)).toBe(v);
      expect(new DataView(buf.buffer).getUint32(0, true)).toBe(v);
    }
  });
});

describe('encode / decode', () => {
  it('round-trips every field', () => {
    const t = transfer({ chainId: 0xfeed_beef, amount: MAX_AMOUNT, nonce: 2 ** 40 + 3 });
    const tx = signTransfer(t, alice.seed);
    const d = decodeTransfer(tx);
    expect(d.version).toBe(TX_VERSION);
    expect(d.kind).toBe(TX_KIND_TRANSFER);
    expect(d.chainId).toBe(0xfeed_beef);
    expect(Buffer.compare(d.sender, Buffer.from(alice.publicKey))).toBe(0);
    expect(Buffer.compare(d.recipient, Buffer.from(bob.publicKey))).toBe(0);
    expect(d.amount).toBe(MAX_AMOUNT);
    expect(d.nonce).toBe(2 ** 40 + 3);
    expect([...d.reference]).toEqual([...t.reference!]);
    expect(Buffer.compare(d.signature, Buffer.from(sigOf(tx)))).toBe(0);
  });

  it('writes the documented bytes at the documented offsets', () => {
    const tx = encodeUnsigned(transfer({ chainId: 0x0a0b0c0d, amount: 0x0102_0304_0506, nonce: 9 }));
    const dv = new DataView(tx.buffer, tx.byteOffset, tx.length);
    expect(dv.getUint8(0)).toBe(1);
    expect(dv.getUint8(1)).toBe(1);
    expect(dv.getUint16(2, true)).toBe(0);
    expect(tx.subarray(4, 8).toString('hex')).toBe('0d0c0b0a');
    expect(dv.getBigUint64(72, true)).toBe(0x0102_0304_0506n);
    expect(dv.getBigUint64(80, true)).toBe(9n);
    expect(tx.subarray(104).every((b) => b === 0)).toBe(true); // unsigned: signature left zero
  });

  it('decoded buffers are copies, not views of the input', () => {
    const tx = signTransfer(transfer(), alice.seed);
    const d = decodeTransfer(tx);
    tx.fill(0);
    expect(Buffer.compare(d.sender, Buffer.from(alice.publicKey))).toBe(0);
  });

  it('works at an offset inside a batch buffer', () => {
    const batch = Buffer.alloc(TX_SIZE * 3);
    for (let i = 0; i < 3; i++) signTransfer(transfer({ nonce: i + 1 }), alice.seed, batch, i * TX_SIZE);
    for (let i = 0; i < 3; i++) {
      expect(decodeTransfer(batch, i * TX_SIZE).nonce).toBe(i + 1);
      expect(txAt(batch, i).length).toBe(TX_SIZE);
      expect(decodeTransfer(txAt(batch, i)).nonce).toBe(i + 1);
      expect(txId(batch, i * TX_SIZE).equals(txId(txAt(batch, i)))).toBe(true);
      expect(signingMessage(batch, i * TX_SIZE).equals(signingMessage(txAt(batch, i)))).toBe(true);
      expect(verifySignature(sigOf(batch, i * TX_SIZE), signingMessage(batch, i * TX_SIZE), senderOf(batch, i * TX_SIZE))).toBe(true);
    }
  });

  it('a decoded value that does not fit 2^53 reads as -1', () => {
    const tx = signTransfer(transfer(), alice.seed);
    new DataView(tx.buffer, tx.byteOffset).setBigUint64(Off.AMOUNT, 2n ** 63n, true);
    new DataView(tx.buffer, tx.byteOffset).setBigUint64(Off.NONCE, 2n ** 53n, true);
    const d = decodeTransfer(tx);
    expect(d.amount).toBe(-1);
    expect(d.nonce).toBe(-1);
  });

  it('decodeTransfer refuses short input and bad offsets with a HotledgerError', () => {
    expect(() => decodeTransfer(new Uint8Array(TX_SIZE - 1))).toThrow(HotledgerError);
    expect(() => decodeTransfer(new Uint8Array(TX_SIZE), 1)).toThrow(/168 bytes/);
    const batch = Buffer.alloc(TX_SIZE * 2);
    expect(() => decodeTransfer(batch.subarray(TX_SIZE), -TX_SIZE)).toThrow(HotledgerError);
    expect(() => decodeTransfer(batch, 0.5)).toThrow(HotledgerError);
  });

  it('encodeUnsigned validates its inputs', () => {
    const bad: [Partial<UnsignedTransfer>, RegExp][] = [
      [{ sender: new Uint8Array(31) }, /32 bytes/],
      [{ recipient: new Uint8Array(33) }, /32 bytes/],
      [{ amount: -1 }, /amount/],
      [{ amount: 2 ** 53 }, /amount/],
      [{ amount: 1.5 }, /amount/],
      [{ nonce: -1 }, /nonce/],
      [{ nonce: 2 ** 53 }, /nonce/],
      [{ reference: new Uint8Array(15) }, /reference/],
      [{ chainId: -1 }, /chain id/],
      [{ chainId: 2 ** 32 }, /chain id/],
      [{ chainId: 1.5 }, /chain id/],
    ];
    for (const [over, msg] of bad) {
      let err: unknown;
      try {
        encodeUnsigned(transfer(over));
      } catch (e) {
        err = e;
      }
      expect(err, JSON.stringify(Object.keys(over))).toBeInstanceOf(HotledgerError);
      expect((err as HotledgerError).code).toBe('BAD_REQUEST');
      expect((err as Error).message).toMatch(msg);
    }
    // Missing reference means 16 zero bytes.
    const tx = encodeUnsigned({ ...transfer(), reference: undefined });
    expect(tx.subarray(Off.REFERENCE, Off.REFERENCE + 16).every((b) => b === 0)).toBe(true);
  });

  it('encodeUnsigned overwrites stale bytes in a reused buffer', () => {
    const out = Buffer.alloc(TX_SIZE, 0xff);
    encodeUnsigned(transfer(), out);
    expect(out.readUInt16LE(Off.FLAGS)).toBe(0);
    expect(out.subarray(Off.SIGNATURE).every((b) => b === 0)).toBe(true);
  });
});

describe('signing', () => {
  it('signTransfer produces a signature libsodium accepts over domain || body', () => {
    const tx = signTransfer(transfer(), alice.seed);
    const msg = signingMessage(tx);
    expect(msg.length).toBe(120);
    expect(msg.subarray(0, 16).equals(SIGNING_DOMAIN)).toBe(true);
    expect(msg.subarray(16).equals(tx.subarray(0, 104))).toBe(true);
    expect(verifySignature(sigOf(tx), msg, alice.publicKey)).toBe(true);
    // Not a signature over the bare body: the domain tag is part of the message.
    expect(verifySignature(sigOf(tx), tx.subarray(0, 104), alice.publicKey)).toBe(false);
    // Not valid for another key.
    expect(verifySignature(sigOf(tx), msg, bob.publicKey)).toBe(false);
  });

  it('every body byte is covered by the signature', () => {
    const tx = signTransfer(transfer(), alice.seed);
    for (let i = 0; i < TX_BODY_SIZE; i++) {
      const m = Buffer.from(tx);
      m[i]! ^= 0x01;
      expect(verifySignature(sigOf(m), signingMessage(m), senderOf(m)), `byte ${i}`).toBe(false);
    }
  });

  it('a tx signed for chain A fails verification once the chain id says B', () => {
    const tx = signTransfer(transfer({ chainId: 1 }), alice.seed);
    expect(verifySignature(sigOf(tx), signingMessage(tx), alice.publicKey)).toBe(true);
    const onB = Buffer.from(tx);
    writeU32(onB, Off.CHAIN_ID, 2);
    expect(decodeTransfer(onB).chainId).toBe(2);
    expect(verifySignature(sigOf(onB), signingMessage(onB), alice.publicKey)).toBe(false);
    // And signatures made for different chains differ.
    const txB = signTransfer(transfer({ chainId: 2 }), alice.seed);
    expect(Buffer.from(sigOf(txB)).equals(Buffer.from(sigOf(tx)))).toBe(false);
    expect(verifySignature(sigOf(txB), signingMessage(onB), alice.publicKey)).toBe(true);
  });
});

describe('tx id', () => {
  it('is SHA-256 of body bytes 0..103', () => {
    const tx = signTransfer(transfer(), alice.seed);
    const expected = createHash('sha256').update(tx.subarray(0, 104)).digest();
    expect(txId(tx).equals(expected)).toBe(true);
    expect(txId(tx).length).toBe(TX_ID_SIZE);
  });

  it('is independent of the signature bytes', () => {
    const tx = signTransfer(transfer(), alice.seed);
    const id = txId(tx);
    const unsigned = encodeUnsigned(transfer());
    expect(txId(unsigned).equals(id)).toBe(true);
    const mangled = Buffer.from(tx);
    mangled.fill(0x5a, Off.SIGNATURE);
    expect(txId(mangled).equals(id)).toBe(true);
  });

  it('changes when any body field changes', () => {
    const base = txId(encodeUnsigned(transfer()));
    const variants: Partial<UnsignedTransfer>[] = [{ chainId: 8 }, { amount: 5_001 }, { nonce: 4 }, { recipient: alice.publicKey }, { reference: new Uint8Array(16) }];
    const ids = new Set([base.toString('hex')]);
    for (const v of variants) ids.add(txId(encodeUnsigned(transfer(v))).toString('hex'));
    expect(ids.size).toBe(variants.length + 1);
  });

  it('is deterministic: signing twice yields identical bytes (Ed25519 is deterministic)', () => {
    const a = signTransfer(transfer(), alice.seed);
    const b = signTransfer(transfer(), alice.seed);
    expect(a.equals(b)).toBe(true);
  });
});
