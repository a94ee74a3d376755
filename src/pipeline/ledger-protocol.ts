import type { LedgerOptions } from '../execution/ledger.js';

/**
 * Messages between the coordinator and the ledger thread. Buffers travel as transferred
 * ArrayBuffers. One thread may run the ledgers of several logical nodes (`hotledger host`): every
 * message names its ledger.
 */
export type LedgerRequest = (
  | { type: 'init'; options: Omit<LedgerOptions, 'genesis'> & { genesis: { publicKey: Uint8Array; balance: number }[] } }
  | {
      type: 'block';
      seq: number;
      txs: ArrayBuffer;
      count: number;
      verified: ArrayBuffer;
      ids: ArrayBuffer;
      timestamp: number;
      round: number;
      batches?: { digest: Uint8Array; count: number }[];
    }
  | { type: 'close' }
) & { ledger: number };

export interface TipMessage {
  height: number;
  hash: Uint8Array;
  stateRoot: Uint8Array;
}

export type LedgerReply = (
  | { type: 'ready'; tip: TipMessage }
  | {
      type: 'committed';
      seq: number;
      height: number;
      hash: Uint8Array;
      parentHash: Uint8Array;
      stateRoot: Uint8Array;
      parentStateRoot: Uint8Array;
      timestamp: number;
      statuses: ArrayBuffer;
      committed: number;
      rejected: number;
      executeMs: number;
      persistMs: number;
      cacheSize: number;
    }
  | { type: 'closed' }
  | { type: 'error'; seq?: number; code: string; message: string }
) & { ledger: number };
