import { HotledgerError, type ErrorCode } from '../errors.js';

/** HTTP status of each error code. Codes not listed are server faults (500). */
export const statusOfCode: Partial<Record<ErrorCode, number>> = {
  BAD_REQUEST: 400,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  INVALID_TRANSACTION: 422,
  OVERLOADED: 503,
  RATE_LIMITED: 429,
  REQUEST_TIMEOUT: 408,
  ORIGIN_NOT_ALLOWED: 403,
  ROLE_READ_ONLY: 403,
  NOT_READY: 503,
  SHUTTING_DOWN: 503,
  STORAGE_FULL: 503,
  CONFIG_INVALID: 500,
  INTERNAL: 500,
};

export const STATUS_TEXT: Record<number, string> = {
  200: '200 OK',
  202: '202 Accepted',
  400: '400 Bad Request',
  403: '403 Forbidden',
  404: '404 Not Found',
  405: '405 Method Not Allowed',
  408: '408 Request Timeout',
  413: '413 Payload Too Large',
  415: '415 Unsupported Media Type',
  422: '422 Unprocessable Entity',
  429: '429 Too Many Requests',
  500: '500 Internal Server Error',
  503: '503 Service Unavailable',
};

export function statusLine(status: number): string {
  return STATUS_TEXT[status] ?? `${status} Status`;
}

/**
 * An error answered to a client. The body is always
 * `{ "error": { "code": "STABLE_CODE", "message": "human text", ...details } }`.
 */
export class ApiError extends HotledgerError {
  readonly status: number;
  readonly headers: Record<string, string>;
  constructor(code: ErrorCode, message: string, opts: { status?: number; details?: Record<string, unknown>; headers?: Record<string, string> } = {}) {
    super(code, message, opts.details);
    this.name = 'ApiError';
    this.status = opts.status ?? statusOfCode[code] ?? 500;
    this.headers = opts.headers ?? {};
  }
}

export const badRequest = (message: string, details?: Record<string, unknown>) => new ApiError('BAD_REQUEST', message, { details });
export const notFound = (message: string, details?: Record<string, unknown>) => new ApiError('NOT_FOUND', message, { details });

export function errorBody(code: string, message: string, details?: Record<string, unknown>): string {
  return JSON.stringify({ error: { code, message, ...details } });
}

/** Any thrown value → status, headers and the one error body shape. Unknown faults say nothing internal. */
export function toErrorReply(e: unknown): { status: number; headers: Record<string, string>; body: string; internal: boolean } {
  if (e instanceof ApiError) return { status: e.status, headers: e.headers, body: errorBody(e.code, e.message, e.details), internal: false };
  if (e instanceof HotledgerError) {
    const status = statusOfCode[e.code] ?? 500;
    const headers: Record<string, string> = status === 503 ? { 'Retry-After': '1' } : {};
    return { status, headers, body: errorBody(e.code, e.message, e.details), internal: status >= 500 };
  }
  return { status: 500, headers: {}, body: errorBody('INTERNAL', 'internal error'), internal: true };
}
