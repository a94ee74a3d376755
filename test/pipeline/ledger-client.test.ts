import { describe, it, expect, afterAll } from 'vitest';
import { LedgerClient } from '../../src/pipeline/ledger-client.js';
import { generateTransfers, devnetKeyPair } from '../../src/workload/generate.js';
import { TX_ID_SIZE, TX_SIZE } from '../../src/tx/layout.js';
import { txId } from '../../src/tx/codec.js';
import { tempDir } from '../support/fixtures.js';

const CHAIN = 7;
const dirs: { remove(): void }[] = [];
afterAll(() => dirs.forEach((d) => d.remove()));

/**
 * Catch-up applies many blocks back to back. The node takes each reply's height as its tip, so a
 * reply that overtakes an earlier one would set the tip backwards (a restarted validator once
 * stalled that way). Replies must arrive in block order however lmdb resolves its flushes.
 */
describe('LedgerClient (real ledger thread, real LMDB)', () => {
  it('acknowledges back-to-back blocks strictly in height order', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const senders = Array.from({ length: 8 }, (_, i) => devnetKeyPair(CHAIN, i));
    const client = new LedgerClient();
    try {
      await client.init({
        path: dir.path,
        mapSizeMb: 256,
        cacheSizeMb: 16,
        chainId: CHAIN,
        shards: 1,
        genesis: senders.map((k) => ({ publicKey: Buffer.from(k.publicKey), balance: 1_000_000 })),
      });
      const blocks = 120;
      const order: number[] = [];
      const acks: Promise<unknown>[] = [];
      for (let b = 0; b < blocks; b++) {
        // Blocks of very different sizes make flushes finish at different times.
        const count = b % 3 === 0 ? 400 : 1;
        const txs = generateTransfers({
          chainId: CHAIN,
          senders: [senders[b % senders.length]!],
          recipients: [senders[(b + 1) % senders.length]!.publicKey],
          count,
          startNonces: [Math.floor(b / senders.length) * 400 + 1],
        });
        const ids = Buffer.allocUnsafe(count * TX_ID_SIZE);
        for (let i = 0; i < count; i++) txId(txs, i * TX_SIZE).copy(ids, i * TX_ID_SIZE);
        acks.push(client.apply({ txs, count, verified: new Uint8Array(count).fill(1), ids, timestamp: b, round: b + 1 }).then((r) => order.push(r.height)));
      }
      await Promise.all(acks);
      expect(order).toEqual(Array.from({ length: blocks }, (_, i) => i + 1));
    } finally {
      await client.close();
    }
  });
});
