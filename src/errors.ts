/**
 * Stable error vocabulary. Codes are part of the public contract (API bodies, CLI output, logs,
 * the transaction index): never renumber or rename one, only add.
 */

/** Why a transaction was not (or will not be) committed. Stored as one byte in the tx index. */
export const RejectCode = {
  // Admission (mempool / decoding): no crypto needed to decide these.
  MALFORMED: 1,
  WRONG_SIZE: 2,
  UNSUPPORTED_VERSION: 3,
  UNSUPPORTED_KIND: 4,
  WRONG_CHAIN: 5,
  ZERO_AMOUNT: 6,
  AMOUNT_TOO_LARGE: 7,
  SELF_TRANSFER: 8,
  NONCE_TOO_LOW: 9,
  NONCE_PENDING: 10,
  NONCE_TOO_FAR: 11,
  DUPLICATE: 12,
  UNKNOWN_SENDER: 13,
  MEMPOOL_FULL: 14,
  SENDER_QUEUE_FULL: 15,
  /** Too many transactions wait for signature verification at admission (back-pressure). */
  VERIFY_QUEUE_FULL: 16,
  // Verification.
  BAD_SIGNATURE: 20,
  // Execution.
  INSUFFICIENT_FUNDS: 30,
  NONCE_MISMATCH: 31,
  /** The tx was in a batch whose predecessor from the same sender was rejected. */
  NONCE_GAP: 32,
  /** Evicted from the mempool (node shutdown or re-validation after a reorg of pending state). */
  DROPPED: 40,
  // Contract transactions (deploy / call, docs/transaction-format.md#contract-transactions).
  /** A deploy's code is longer than MAX_CODE_SIZE. */
  CODE_TOO_LARGE: 50,
  /** Init or call argument bytes are longer than MAX_ARGS_SIZE. */
  ARGS_TOO_LARGE: 51,
  /** The method name is empty, too long, not [A-Za-z0-9_], or names a reserved export. */
  BAD_METHOD: 52,
  /** The gas limit is 0 or above MAX_TX_GAS. */
  GAS_LIMIT_INVALID: 53,
  /** Deploy-time validation refused the module (forbidden import, opcode, limit). */
  MODULE_INVALID: 54,
  CONTRACT_NOT_FOUND: 55,
  METHOD_NOT_FOUND: 56,
  /** The call ran out of gas: its state changes were reverted, the gas was charged. */
  OUT_OF_GAS: 57,
  /** The contract trapped (unreachable, bad memory access, ...): state changes reverted. */
  CONTRACT_TRAP: 58,
  /** The contract called abort with a message: state changes reverted. */
  CONTRACT_ABORT: 59,
  /** The contract's call depth passed MAX_CALL_DEPTH: state changes reverted. */
  STACK_OVERFLOW: 60,
  /** The block's contract transactions together asked for more than BLOCK_GAS_LIMIT: this one was left out (nonce not consumed). */
  BLOCK_GAS_EXCEEDED: 61,
} as const;
export type RejectCode = (typeof RejectCode)[keyof typeof RejectCode];
export type RejectName = keyof typeof RejectCode;

const rejectNames = new Map<number, RejectName>((Object.entries(RejectCode) as [RejectName, number][]).map(([name, code]) => [code, name]));

export function rejectName(code: number): RejectName | 'UNKNOWN' {
  return rejectNames.get(code) ?? 'UNKNOWN';
}

/** Human text for each rejection; shown in API error bodies and CLI output. */
export const rejectMessage: Record<RejectName, string> = {
  MALFORMED: 'transaction bytes could not be decoded',
  WRONG_SIZE: 'transaction is not exactly the fixed transaction size',
  UNSUPPORTED_VERSION: 'transaction format version is not supported',
  UNSUPPORTED_KIND: 'transaction kind is not supported',
  WRONG_CHAIN: 'transaction is signed for another chain id',
  ZERO_AMOUNT: 'amount must be at least 1',
  AMOUNT_TOO_LARGE: 'amount exceeds the maximum amount (2^53 - 1)',
  SELF_TRANSFER: 'sender and recipient are the same account',
  NONCE_TOO_LOW: 'nonce is not above the committed nonce of the sender (replay)',
  NONCE_PENDING: 'a transaction with this sender and nonce is already pending',
  NONCE_TOO_FAR: 'nonce is too far above the committed nonce of the sender',
  DUPLICATE: 'a transaction with this id is already known',
  UNKNOWN_SENDER: 'sender account does not exist',
  MEMPOOL_FULL: 'mempool is at capacity, retry later',
  SENDER_QUEUE_FULL: 'sender has too many pending transactions',
  VERIFY_QUEUE_FULL: 'signature verification is at capacity, retry later',
  BAD_SIGNATURE: 'signature does not verify for the sender key',
  INSUFFICIENT_FUNDS: 'sender balance is lower than the amount',
  NONCE_MISMATCH: 'nonce is not the next nonce of the sender at execution',
  NONCE_GAP: 'an earlier nonce of the same sender was rejected',
  DROPPED: 'transaction was dropped from the mempool before it was ordered',
  CODE_TOO_LARGE: 'contract code is larger than the maximum code size',
  ARGS_TOO_LARGE: 'contract arguments are larger than the maximum argument size',
  BAD_METHOD: 'method name is empty, too long, not [A-Za-z0-9_] or reserved',
  GAS_LIMIT_INVALID: 'gas limit is zero or above the per-transaction maximum',
  MODULE_INVALID: 'contract module was refused by deploy-time validation',
  CONTRACT_NOT_FOUND: 'no contract at this address',
  METHOD_NOT_FOUND: 'contract has no callable method with this name',
  OUT_OF_GAS: 'contract ran out of gas; its state changes were reverted',
  CONTRACT_TRAP: 'contract trapped; its state changes were reverted',
  CONTRACT_ABORT: 'contract aborted; its state changes were reverted',
  STACK_OVERFLOW: 'contract call depth exceeded the maximum; its state changes were reverted',
  BLOCK_GAS_EXCEEDED: 'earlier contract transactions of the block used up the block gas limit; this one did not run',
};

/** Error codes for things that are not a single transaction's fate. */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'STORAGE_CORRUPT'
  | 'STORAGE_CLOSED'
  /** The disk or the configured storage.mapSizeMb is full: the node stopped writing, nothing is lost. */
  | 'STORAGE_FULL'
  /** Another live process (or node) holds this node.dataDir. */
  | 'DATA_DIR_LOCKED'
  | 'NATIVE_MODULE_MISSING'
  | 'BAD_REQUEST'
  | 'NOT_FOUND'
  | 'METHOD_NOT_ALLOWED'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'INVALID_TRANSACTION'
  /** A contract module refused at deploy; details.reason is a ModuleRejectReason (src/contracts/limits.ts). */
  | 'CONTRACT_MODULE_INVALID'
  /** GET /api/v11/contracts/:address: no contract at that address (HTTP 404). */
  | 'CONTRACT_NOT_FOUND'
  | 'OVERLOADED'
  /** A client (address) went past its own share: request or transaction rate, connections, bodies. */
  | 'RATE_LIMITED'
  /** A request body did not arrive within api.bodyTimeoutMs (slow or stalled upload). */
  | 'REQUEST_TIMEOUT'
  /** A WebSocket upgrade from a browser origin not in api.wsAllowedOrigins. */
  | 'ORIGIN_NOT_ALLOWED'
  | 'NOT_READY'
  /** A submission to a slim (archive) node: it serves reads only. */
  | 'ROLE_READ_ONLY'
  | 'SHUTTING_DOWN'
  | 'CONSENSUS_INVALID'
  | 'PEER_MESSAGE_INVALID'
  | 'INTERNAL';

export class HotledgerError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: ErrorCode, message: string, details?: Record<string, unknown>) {
    super(message);
    this.name = 'HotledgerError';
    this.code = code;
    this.details = details;
  }
}

export class ConfigError extends HotledgerError {
  constructor(message: string, details?: Record<string, unknown>) {
    super('CONFIG_INVALID', message, details);
    this.name = 'ConfigError';
  }
}
