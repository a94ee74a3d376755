import type { PendingTx } from '../mempool/mempool.js';
import { TX_ID_SIZE } from '../tx/layout.js';

/**
 * A sealed batch: one flat buffer of transactions and one of their ids, in order. `txs` is exactly
 * the `count` transactions' bytes, nothing after them; transfers and contract transactions may
 * mix, so it is read with src/tx/frames.ts.
 */
export interface Batch {
  seq: number;
  entries: PendingTx[];
  txs: Buffer;
  ids: Buffer;
  count: number;
  sealedAt: number;
}

export function sealBatch(seq: number, entries: PendingTx[], now: number): Batch {
  const count = entries.length;
  let bytes = 0;
  for (const e of entries) bytes += e.tx.length;
  const txs = Buffer.allocUnsafe(bytes);
  const ids = Buffer.allocUnsafe(count * TX_ID_SIZE);
  let at = 0;
  for (let i = 0; i < count; i++) {
    const e = entries[i]!;
    at += e.tx.copy(txs, at);
    e.id.copy(ids, i * TX_ID_SIZE);
  }
  return { seq, entries, txs, ids, count, sealedAt: now };
}
