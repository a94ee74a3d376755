import type { PendingTx } from '../mempool/mempool.js';
import { TX_ID_SIZE, TX_SIZE } from '../tx/layout.js';

/** A sealed batch: one flat buffer of transactions and one of their ids, in order. */
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
  const txs = Buffer.allocUnsafe(count * TX_SIZE);
  const ids = Buffer.allocUnsafe(count * TX_ID_SIZE);
  for (let i = 0; i < count; i++) {
    const e = entries[i]!;
    e.tx.copy(txs, i * TX_SIZE);
    e.id.copy(ids, i * TX_ID_SIZE);
  }
  return { seq, entries, txs, ids, count, sealedAt: now };
}
