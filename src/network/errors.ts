/**
 * Why a peer connection was refused or closed. These strings go into logs, the CLOSE frame sent
 * to the remote side and the handshake-failure counters, so treat them like the codes in
 * src/errors.ts: never rename one, only add.
 */
export const NET_ERROR_CODES = [
  // Handshake: the remote did not prove it is the validator it claims to be (or is not wanted).
  'HANDSHAKE_TIMEOUT',
  'PROTOCOL_VERSION',
  'PROTOCOL_ERROR',
  'WRONG_CHAIN',
  'UNKNOWN_PEER',
  'UNKNOWN_KEY',
  'KEY_MISMATCH',
  'BAD_SIGNATURE',
  'DUPLICATE',
  'WRONG_DIRECTION',
  'UNEXPECTED_PEER',
  'TOO_MANY_PENDING',
  'REJECTED_BY_PEER',
  // A simultaneous open left two authenticated links: the one dialed by the higher index is closed.
  'SUPERSEDED',
  // Framing, at any stage.
  'FRAME_TOO_LARGE',
  'DECODE_ERROR',
  // A sealed frame (any frame after AUTH) failed authenticated decryption: tampered, replayed,
  // reordered, truncated or injected. Nothing of it is delivered.
  'FRAME_AUTH_FAILED',
  // send/broadcast: the value cannot be encoded as msgpack at all.
  'ENCODE_ERROR',
  // Connection lifetime.
  'IDLE_TIMEOUT',
  'SOCKET_ERROR',
  'DIAL_FAILED',
  'PEER_CLOSED',
  'REMOTE_CLOSE',
  'SHUTDOWN',
  // Local API misuse (thrown, never sent on the wire).
  'NOT_STARTED',
  'CLOSED',
] as const;

export type NetErrorCode = (typeof NET_ERROR_CODES)[number];

const known = new Set<string>(NET_ERROR_CODES);
export function isNetErrorCode(s: string): s is NetErrorCode {
  return known.has(s);
}

export class NetworkError extends Error {
  readonly code: NetErrorCode;
  /** Validator index of the remote side, when it is known (claimed or dialed). */
  readonly peer: number | undefined;
  readonly details: Record<string, unknown> | undefined;
  constructor(code: NetErrorCode, message: string, peer?: number, details?: Record<string, unknown>) {
    super(message);
    this.name = 'NetworkError';
    this.code = code;
    this.peer = peer;
    this.details = details;
  }
}
