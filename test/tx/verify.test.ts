import { describe, it, expect } from 'vitest';
import { keyPairFromSeed } from '../../src/crypto/keys.js';
import { signTransfer } from '../../src/tx/sign.js';
import { verifyTransactions } from '../../src/tx/verify.js';
import { writeU32 } from '../../src/tx/codec.js';
import { Off, TX_SIZE } from '../../src/tx/layout.js';
import { RejectCode } from '../../src/errors.js';

const alice = keyPairFromSeed(new Uint8Array(32).fill(7));
const bob = keyPairFromSeed(new Uint8Array(32).fill(8));

function batch(n: number, backing: 'plain' | 'shared' = 'plain'): Uint8Array {
  const b = Buffer.alloc(n * TX_SIZE);
  for (let i = 0; i < n; i++) {
    signTransfer({ chainId: 5, sender: alice.publicKey, recipient: bob.publicKey, amount: 10 + i, nonce: i + 1 }, alice.seed, b, i * TX_SIZE);
  }
  if (backing === 'plain') return b;
  const s = new Uint8Array(new SharedArrayBuffer(b.length));
  s.set(b);
  return s;
}

describe('verifyTransactions (batch signature check)', () => {
  it('returns 0 per valid tx and BAD_SIGNATURE per invalid one', () => {
    const b = batch(5);
    b[2 * TX_SIZE + Off.SIGNATURE + 10]! ^= 1; // tx 2: signature bit
    writeU32(b, 4 * TX_SIZE + Off.CHAIN_ID, 6); // tx 4: chain id changed after signing
    b[1 * TX_SIZE + Off.REFERENCE]! ^= 0x80; // tx 1: reference is signed too
    expect([...verifyTransactions(b, 5)]).toEqual([0, RejectCode.BAD_SIGNATURE, RejectCode.BAD_SIGNATURE, 0, RejectCode.BAD_SIGNATURE]);
  });

  it('gives the same answer on a SharedArrayBuffer-backed batch and on a sub-view', () => {
    const s = batch(3, 'shared');
    s[TX_SIZE + Off.AMOUNT]! ^= 1;
    expect([...verifyTransactions(s, 3)]).toEqual([0, RejectCode.BAD_SIGNATURE, 0]);
    const p = Buffer.concat([Buffer.alloc(TX_SIZE), Buffer.from(batch(2))]);
    expect([...verifyTransactions(p.subarray(TX_SIZE), 2)]).toEqual([0, 0]);
    expect([...verifyTransactions(p, 3)]).toEqual([RejectCode.BAD_SIGNATURE, 0, 0]); // all-zero tx
  });
});
