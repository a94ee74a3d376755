import type { RejectName } from '../errors.js';

/**
 * Why a client call failed. `retrySafe` says whether calling again cannot make things worse: a
 * network failure or timeout after the request left is safe for a submission because a retry sends
 * the same signed bytes (same id), which the node answers as `DUPLICATE` / `NONCE_PENDING` at worst.
 */
export type ClientErrorCode =
  /** The endpoint did not answer (connection refused, reset, DNS). */
  | 'NETWORK'
  /** No answer within `requestTimeoutMs`. */
  | 'TIMEOUT'
  /** 429/503 still refused after the bounded back-off. */
  | 'RATE_LIMITED'
  | 'OVERLOADED'
  /** `transfer()` gave up waiting for the outcome; the transaction may still commit. */
  | 'DURABILITY_TIMEOUT'
  /** Any other API error code (BAD_REQUEST, NOT_FOUND, ...), as answered by the node. */
  | string;

export class ClientError extends Error {
  readonly code: ClientErrorCode;
  /** HTTP status when the node answered; undefined for network failures and timeouts. */
  readonly status: number | undefined;
  readonly retrySafe: boolean;
  /** The node's suggested wait (Retry-After), when it gave one. */
  readonly retryAfterMs: number | undefined;
  readonly body: unknown;
  /**
   * Set when `transfer()` fails after signing: the one signed transaction it may already have
   * delivered. Resend exactly these bytes (`client.submit(err.transaction)`), never call
   * `transfer()` again for the same payment: that signs a new transaction, which could pay twice.
   */
  readonly transaction: { readonly bytes: Uint8Array; readonly id: string } | undefined;
  constructor(
    code: ClientErrorCode,
    message: string,
    opts: { status?: number; retrySafe: boolean; retryAfterMs?: number; body?: unknown; transaction?: { bytes: Uint8Array; id: string }; cause?: unknown },
  ) {
    // `cause`: for NETWORK and TIMEOUT, the fetch error (its own `cause.code`, e.g. ECONNREFUSED, says why).
    super(message, opts.cause !== undefined ? { cause: opts.cause } : undefined);
    this.name = 'ClientError';
    this.code = code;
    this.status = opts.status;
    this.retrySafe = opts.retrySafe;
    this.retryAfterMs = opts.retryAfterMs;
    this.body = opts.body;
    this.transaction = opts.transaction;
  }
}

/**
 * A transaction's final or admission rejection. `rejectCode` is the stable RejectCode name
 * (src/errors.ts). Retrying the same bytes is never useful; `retrySafe` is true only for capacity
 * codes, where a *new* submission of the same transaction later may succeed.
 */
export class TransactionRejectedError extends Error {
  readonly code = 'TRANSACTION_REJECTED' as const;
  readonly id: string;
  readonly rejectCode: RejectName | 'UNKNOWN';
  /** Set when the rejection happened at execution (in a block), absent when refused at admission. */
  readonly height: number | undefined;
  readonly retrySafe: boolean;
  constructor(id: string, rejectCode: RejectName | 'UNKNOWN', message: string, height?: number) {
    super(`transaction ${id} rejected: ${rejectCode}: ${message}`);
    this.name = 'TransactionRejectedError';
    this.id = id;
    this.rejectCode = rejectCode;
    this.height = height;
    this.retrySafe = CAPACITY.has(rejectCode);
  }
}

const CAPACITY = new Set<string>(['MEMPOOL_FULL', 'SENDER_QUEUE_FULL', 'VERIFY_QUEUE_FULL']);
