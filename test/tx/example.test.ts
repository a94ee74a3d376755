/**
 * The worked example of docs/transaction-format.md lives in test/fixtures/tx-example.json. This file
 * checks it twice: against the real code (src/tx, src/crypto) and against an independent
 * re-implementation built only from the document (DataView + @noble/ed25519 + @noble/hashes), so
 * the document, the fixture and the code cannot drift apart.
 */
import { describe, it, expect } from 'vitest';
import { readFileSync } from 'node:fs';
import * as ed from '@noble/ed25519';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { keyPairFromSeed } from '../../src/crypto/keys.js';
import { verifySignature } from '../../src/crypto/ed25519.js';
import { signTransfer } from '../../src/tx/sign.js';
import { decodeTransfer, signingMessage, txId } from '../../src/tx/transaction.js';
import { Off, SIGNING_DOMAIN, TX_SIZE } from '../../src/tx/layout.js';
import { RejectCode, rejectMessage, type RejectName } from '../../src/errors.js';

ed.hashes.sha512 = sha512;

interface Example {
  senderSeed: string;
  senderPublicKey: string;
  recipient: string;
  chainId: number;
  amount: number;
  nonce: number;
  referenceAscii: string;
  reference: string;
  fields: Record<string, string>;
  signingMessage: string;
  signature: string;
  tx: string;
  txId: string;
}

const ex = JSON.parse(readFileSync(new URL('../fixtures/tx-example.json', import.meta.url), 'utf8')) as Example;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const unhex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));

/** Everything below is written from docs/transaction-format.md alone; nothing from src/tx. */
function independentBuild(seed: Uint8Array, recipient: Uint8Array, chainId: number, amount: number, nonce: number, reference: Uint8Array) {
  const tx = new Uint8Array(168);
  const dv = new DataView(tx.buffer);
  const sender = ed.getPublicKey(seed);
  dv.setUint8(0, 1); // version
  dv.setUint8(1, 1); // kind: transfer
  dv.setUint16(2, 0, true); // flags
  dv.setUint32(4, chainId, true);
  tx.set(sender, 8);
  tx.set(recipient, 40);
  dv.setBigUint64(72, BigInt(amount), true);
  dv.setBigUint64(80, BigInt(nonce), true);
  tx.set(reference, 88);
  const domain = new TextEncoder().encode('hotledger/tx/v1\0');
  const message = new Uint8Array(domain.length + 104);
  message.set(domain, 0);
  message.set(tx.subarray(0, 104), domain.length);
  const signature = ed.sign(message, seed);
  tx.set(signature, 104);
  const id = sha256(tx.subarray(0, 104));
  return { tx, message, signature, id, sender, domain };
}

describe('worked example (test/fixtures/tx-example.json)', () => {
  it('the fixture is internally consistent', () => {
    expect(ex.tx).toHaveLength(168 * 2);
    expect(ex.signingMessage).toHaveLength(120 * 2);
    expect(ex.txId).toHaveLength(64);
    expect(Buffer.from(ex.referenceAscii, 'latin1').toString('hex')).toBe(ex.reference);
    // The field breakdown concatenates to the whole transaction, in document order.
    const order = ['version', 'kind', 'flags', 'chainId', 'sender', 'recipient', 'amount', 'nonce', 'reference', 'signature'];
    expect(Object.keys(ex.fields)).toEqual(order);
    expect(order.map((k) => ex.fields[k]).join('')).toBe(ex.tx);
    expect(ex.fields.signature).toBe(ex.signature);
    // Sender key is RFC 8032 TEST 1, recipient is RFC 8032 TEST 2's public key.
    expect(ex.senderPublicKey).toBe('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a');
    expect(ex.recipient).toBe('3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c');
  });

  it('the real code (signTransfer, signingMessage, txId) produces exactly the fixture', () => {
    const seed = unhex(ex.senderSeed);
    const kp = keyPairFromSeed(seed);
    expect(hex(kp.publicKey)).toBe(ex.senderPublicKey);
    const tx = signTransfer(
      { chainId: ex.chainId, sender: kp.publicKey, recipient: unhex(ex.recipient), amount: ex.amount, nonce: ex.nonce, reference: unhex(ex.reference) },
      seed,
    );
    expect(tx.length).toBe(TX_SIZE);
    expect(hex(tx)).toBe(ex.tx);
    expect(hex(signingMessage(tx))).toBe(ex.signingMessage);
    expect(hex(txId(tx))).toBe(ex.txId);
    expect(verifySignature(tx.subarray(104, 168), signingMessage(tx), kp.publicKey)).toBe(true);
  });

  it('an independent re-implementation (DataView + noble) produces exactly the fixture', () => {
    const r = independentBuild(unhex(ex.senderSeed), unhex(ex.recipient), ex.chainId, ex.amount, ex.nonce, unhex(ex.reference));
    expect(hex(r.domain)).toBe('686f746c65646765722f74782f763100');
    expect(hex(r.domain)).toBe(Buffer.from(SIGNING_DOMAIN).toString('hex'));
    expect(hex(r.sender)).toBe(ex.senderPublicKey);
    expect(hex(r.message)).toBe(ex.signingMessage);
    expect(hex(r.signature)).toBe(ex.signature);
    expect(hex(r.tx)).toBe(ex.tx);
    expect(hex(r.id)).toBe(ex.txId);
    // The consensus verifier (libsodium) accepts what the independent builder made.
    expect(verifySignature(r.signature, r.message, r.sender)).toBe(true);
  });

  it('the real decoder reads the fixture back to the documented values', () => {
    const t = decodeTransfer(Buffer.from(ex.tx, 'hex'));
    expect(t.version).toBe(1);
    expect(t.kind).toBe(1);
    expect(t.chainId).toBe(ex.chainId);
    expect(hex(t.sender)).toBe(ex.senderPublicKey);
    expect(hex(t.recipient)).toBe(ex.recipient);
    expect(t.amount).toBe(ex.amount);
    expect(t.nonce).toBe(ex.nonce);
    expect(t.reference.toString('latin1')).toBe(ex.referenceAscii);
    expect(hex(t.signature)).toBe(ex.signature);
  });

  it('independent and real implementations agree on other inputs too', () => {
    const cases = [
      { seed: 1, chainId: 1, amount: 1, nonce: 1 },
      { seed: 2, chainId: 0xffffffff, amount: Number.MAX_SAFE_INTEGER, nonce: Number.MAX_SAFE_INTEGER },
      { seed: 3, chainId: 0x01020304, amount: 2 ** 32, nonce: 2 ** 32 - 1 },
      { seed: 4, chainId: 99, amount: 0x1234_5678_9abc, nonce: 42 },
    ];
    for (const c of cases) {
      const seed = new Uint8Array(32).fill(c.seed);
      const recipient = ed.getPublicKey(new Uint8Array(32).fill(c.seed + 100));
      const reference = new Uint8Array(16).map((_, i) => (i * 17 + c.seed) & 0xff);
      const r = independentBuild(seed, recipient, c.chainId, c.amount, c.nonce, reference);
      const tx = signTransfer({ chainId: c.chainId, sender: r.sender, recipient, amount: c.amount, nonce: c.nonce, reference }, seed);
      expect(hex(tx)).toBe(hex(r.tx));
      expect(hex(txId(tx))).toBe(hex(r.id));
    }
  });
});

describe('docs/transaction-format.md', () => {
  const doc = readFileSync(new URL('../../docs/transaction-format.md', import.meta.url), 'utf8');
  const lines = doc.split('\n');

  it('shows the worked example exactly as the fixture has it', () => {
    // The long values each stand alone on a line of a code block.
    for (const value of [ex.tx, ex.signingMessage, ex.signature, ex.txId]) expect(lines).toContain(value);
    for (const value of [ex.senderSeed, ex.senderPublicKey, ex.recipient, ex.reference]) expect(doc).toContain(`\`${value}\``);
    for (const [field, bytes] of Object.entries(ex.fields)) {
      const row = lines.find((l) => l.startsWith('| ') && l.includes(`| ${field} |`) && l.includes(`\`${bytes}\``));
      expect(row, field).toBeDefined();
    }
    expect(doc).toContain(`| chain id | ${ex.chainId} `);
    expect(doc).toContain(`| amount | ${ex.amount} `);
    expect(doc).toContain(`| nonce | ${ex.nonce} |`);
  });

  it('states every layout offset that src/tx/layout.ts uses', () => {
    const names: Record<keyof typeof Off, string> = {
      VERSION: 'version',
      KIND: 'kind',
      FLAGS: 'flags',
      CHAIN_ID: 'chainId',
      SENDER: 'sender',
      RECIPIENT: 'recipient',
      AMOUNT: 'amount',
      NONCE: 'nonce',
      REFERENCE: 'reference',
      SIGNATURE: 'signature',
    };
    for (const [k, name] of Object.entries(names)) {
      const off = Off[k as keyof typeof Off];
      const row = lines.find((l) => l.startsWith(`| ${off} | `) && l.split('|')[3]?.trim() === `\`${name}\``);
      expect(row, `${name} at ${off}`).toBeDefined();
    }
  });

  it('lists every RejectCode with its number and message', () => {
    for (const [name, code] of Object.entries(RejectCode)) {
      const msg = rejectMessage[name as RejectName].replace('2^53 - 1', '2^53 − 1');
      expect(lines, name).toContain(`| ${code} | \`${name}\` | ${msg} |`);
    }
  });
});
