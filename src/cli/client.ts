import { HotledgerError, type ErrorCode } from '../errors.js';

export const DEFAULT_URL = 'http://127.0.0.1:9003';

/** The node URL: --url, else HOTLEDGER_URL, else the default port on loopback. */
export function nodeUrl(flag: string | undefined): string {
  const raw = flag ?? process.env.HOTLEDGER_URL ?? DEFAULT_URL;
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new HotledgerError('BAD_REQUEST', `--url ${JSON.stringify(raw)} is not a URL (expected e.g. ${DEFAULT_URL})`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new HotledgerError('BAD_REQUEST', `--url must start with http:// or https:// (got ${raw})`);
  return raw.replace(/\/+$/, '');
}

/** An HTTP answer that was not 2xx, carrying the API's stable error code. */
export class ApiResponseError extends HotledgerError {
  constructor(
    readonly status: number,
    code: ErrorCode,
    message: string,
    details?: Record<string, unknown>,
  ) {
    super(code, message, details);
    this.name = 'ApiResponseError';
  }
}

/** Small fetch-based client for the node API; every failure becomes a HotledgerError in words. */
export class ApiClient {
  constructor(readonly base: string) {}

  async request<T>(path: string, init: RequestInit = {}): Promise<T> {
    let r: Response | undefined;
    // A GET is retried once: a pooled keep-alive socket may have been closed by the server's idle timeout.
    const attempts = (init.method ?? 'GET') === 'GET' ? 2 : 1;
    for (let i = 1; !r; i++) {
      try {
        r = await fetch(this.base + path, { ...init, signal: init.signal ?? AbortSignal.timeout(30_000) });
      } catch (e) {
        if (i < attempts && (e as Error).name !== 'TimeoutError') continue;
        throw new HotledgerError('NOT_READY', `cannot reach the node at ${this.base}: ${describeFetchError(e)}`);
      }
    }
    const text = await r.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    if (!r.ok) {
      const err = (body as { error?: { code?: string; message?: string } } | undefined)?.error;
      const { code: _c, message: _m, ...details } = (err ?? {}) as Record<string, unknown>;
      throw new ApiResponseError(
        r.status,
        (err?.code as ErrorCode) ?? 'INTERNAL',
        err?.message ?? `HTTP ${r.status} from ${path}${text ? `: ${text.slice(0, 200)}` : ''}`,
        details,
      );
    }
    if (body === undefined && text) throw new HotledgerError('INTERNAL', `the node answered ${path} with something that is not JSON`);
    return body as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>(path);
  }

  post<T>(path: string, body: string | Buffer, contentType: string): Promise<T> {
    return this.request<T>(path, { method: 'POST', body, headers: { 'content-type': contentType } });
  }
}

export function describeFetchError(e: unknown): string {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError') return 'no answer within the timeout';
  const code = err.cause?.code;
  if (code === 'ECONNREFUSED') return 'connection refused (is the node running? start one with `hotledger start --devnet`)';
  if (code === 'ENOTFOUND') return 'host not found';
  if (code) return `${code}${err.cause?.message ? ` (${err.cause.message})` : ''}`;
  return err.cause?.message ?? err.message ?? String(e);
}
