import { randomBytes } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { generateKeyPair } from '../../src/crypto/keys.js';
import { signTransferTx, transactionId } from '../../src/client/index.js';
import { txId } from '../../src/tx/codec.js';
import { signTransfer } from '../../src/tx/sign.js';
import { TX_SIZE } from '../../src/tx/layout.js';

/**
 * The client computes ids with noble (it runs in browsers), the node with node:crypto (faster on
 * admission): both must name every transaction the same, or `transfer()` would wait on an id the
 * node never reports.
 */
describe('transaction ids: client (noble) and node (node:crypto)', () => {
  const keys = Array.from({ length: 8 }, () => generateKeyPair());
  const rand = (n: number) => Math.floor(Math.random() * n);

  test('agree on 500 random signed transfers, and the client signs the bytes the node encoder writes', () => {
    for (let i = 0; i < 500; i++) {
      const from = keys[rand(keys.length)]!;
      const to = keys[rand(keys.length)]!.publicKey;
      // Amounts and nonces across the whole u53 range, not just small numbers.
      const amount = i % 3 === 0 ? Number.MAX_SAFE_INTEGER - rand(1000) : 1 + rand(2 ** 32);
      const nonce = 1 + (i % 2 === 0 ? rand(2 ** 53 - 2) : rand(1000));
      const fields = { chainId: rand(2 ** 32), amount, nonce, reference: new Uint8Array(randomBytes(16)) };
      const client = signTransferTx({ ...fields, from, to });
      const node = signTransfer({ ...fields, sender: from.publicKey, recipient: to }, from.seed);
      expect(Buffer.from(client.bytes).equals(node)).toBe(true);
      expect(client.id).toBe(txId(node).toString('hex'));
    }
  });

  test('agree on arbitrary bytes (the id covers the body, whatever it holds)', () => {
    for (let i = 0; i < 2000; i++) {
      const tx = randomBytes(TX_SIZE);
      expect(transactionId(tx)).toBe(txId(tx).toString('hex'));
    }
    const batch = randomBytes(3 * TX_SIZE);
    expect(transactionId(batch.subarray(TX_SIZE, 2 * TX_SIZE))).toBe(txId(batch, TX_SIZE).toString('hex'));
  });
});
