import type { AdmitResult, NodeApi } from '../node/node-api.js';
import { rejectMessage, type RejectName } from '../errors.js';
import { TX_SIZE } from '../tx/layout.js';
import { ApiError, badRequest } from './errors.js';
import type { ApiMetrics } from '../metrics/api-metrics.js';

export type TxResult = { index: number; id: string } | { index: number; code: RejectName; message: string };

export interface SubmitOutcome {
  accepted: number;
  rejected: number;
  results: TxResult[];
  /** Distinct rejection codes seen (not serialized). */
  codes: Set<RejectName>;
}

/** Which per-transaction results a response lists: all (default), only the rejected ones, or none. */
export type ResultsMode = 'all' | 'rejected' | 'none';

export function parseResultsMode(v: string | undefined): ResultsMode {
  if (v === undefined || v === '' || v === 'all') return 'all';
  if (v === 'rejected' || v === 'none') return v;
  throw badRequest(`query parameter results must be all, rejected or none (got ${JSON.stringify(v)})`);
}

const CAPACITY_CODES = new Set<RejectName>(['MEMPOOL_FULL', 'SENDER_QUEUE_FULL', 'VERIFY_QUEUE_FULL']);

/**
 * Rate-limit tokens a binary submission costs: one per 168 bytes (a transfer's size), at least one,
 * so a contract transaction is charged by its size and a 100-KiB deploy is not one token. Rounded
 * down, so a body of api.maxBodyBytes never costs more than the burst the config checks for.
 */
export function submissionCharge(bytes: number): number {
  return Math.max(1, Math.floor(bytes / TX_SIZE));
}

/** Binary concatenation of transactions → the node's admission, summarized for a client. */
export async function submitBinary(node: NodeApi, txs: Buffer, mode: ResultsMode, metrics: ApiMetrics, transport: 'http' | 'ws'): Promise<SubmitOutcome> {
  if (txs.length === 0) throw badRequest('no transactions in the request');
  // A body that does not frame is refused by admission with the offending record (unframedError).
  const admitted: AdmitResult[] = await node.submit(txs);
  let accepted = 0;
  const results: TxResult[] = [];
  const codes = new Set<RejectName>();
  for (let i = 0; i < admitted.length; i++) {
    const r = admitted[i]!;
    if (r.ok) {
      accepted++;
      if (mode === 'all') results.push({ index: i, id: r.id.toString('hex') });
    } else {
      codes.add(r.code);
      if (mode !== 'none') results.push({ index: i, code: r.code, message: rejectMessage[r.code] ?? r.code });
    }
  }
  const rejected = admitted.length - accepted;
  if (accepted) metrics.submittedTxs.inc({ transport, result: 'accepted' }, accepted);
  if (rejected) metrics.submittedTxs.inc({ transport, result: 'rejected' }, rejected);
  return { accepted, rejected, results, codes };
}

/**
 * HTTP status policy: 202 when at least one transaction was admitted; when none was, 503 (mempool
 * or verification queue full) or 429 (sender queue full) with Retry-After if capacity was the only reason, else 422.
 */
export function throwIfNoneAccepted(outcome: SubmitOutcome): void {
  if (outcome.accepted > 0 || outcome.rejected === 0) return;
  const codes = outcome.codes;
  const details = { accepted: 0, rejected: outcome.rejected, results: outcome.results };
  if ([...codes].every((c) => CAPACITY_CODES.has(c))) {
    // The node as a whole is full (503); one sender has too much pending (429).
    const nodeFull = codes.has('MEMPOOL_FULL') || codes.has('VERIFY_QUEUE_FULL');
    const message = codes.has('VERIFY_QUEUE_FULL') ? rejectMessage.VERIFY_QUEUE_FULL : nodeFull ? rejectMessage.MEMPOOL_FULL : rejectMessage.SENDER_QUEUE_FULL;
    throw new ApiError('OVERLOADED', message, {
      status: nodeFull ? 503 : 429,
      headers: { 'Retry-After': '1' },
      details,
    });
  }
  throw new ApiError('INVALID_TRANSACTION', `all ${outcome.rejected} transaction(s) were rejected at admission`, { details });
}
