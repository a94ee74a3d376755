import { ClientError, HotledgerClient, type ClientOptions } from '../client/index.js';
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

/** An HTTP answer that was not 2xx, carrying the API's stable error code and its own words. */
export class ApiResponseError extends HotledgerError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
    details?: Record<string, unknown>,
  ) {
    // The node's code, which may be newer than this CLI's list: printed as it came.
    super(code as ErrorCode, message, details);
    this.name = 'ApiResponseError';
  }
}

/**
 * Runs a client command against one node through `hotledger/client`, closes the client's
 * WebSockets (the process would not exit otherwise) and turns its errors into the CLI's words.
 */
export async function withNode<T>(flag: string | undefined, body: (client: HotledgerClient, base: string) => Promise<T>, opts: ClientOptions = {}): Promise<T> {
  const base = nodeUrl(flag);
  // 30 s per request: the CLI is interactive, one slow answer is better than a retry storm.
  const client = new HotledgerClient(base, { requestTimeoutMs: 30_000, ...opts });
  try {
    return await body(client, base);
  } catch (e) {
    throw cliError(e, base);
  } finally {
    client.close();
  }
}

/** A 404 in the words the API uses, for queries the client answers with `undefined`. */
export function notFound(message: string): ApiResponseError {
  return new ApiResponseError(404, 'NOT_FOUND', message);
}

/** Client errors as the CLI prints them: unreachable is NOT_READY in words, API errors keep the node's message and code. */
export function cliError(e: unknown, base: string): unknown {
  if (!(e instanceof ClientError)) return e;
  if (e.code === 'NETWORK' || e.code === 'TIMEOUT')
    return new HotledgerError('NOT_READY', `cannot reach the node at ${base}: ${describeFetchError(e.code === 'TIMEOUT' ? { name: 'TimeoutError' } : e.cause)}`);
  if (e.status === undefined) return new HotledgerError('INTERNAL', e.message);
  const err = (e.body as { error?: { code?: string; message?: string } & Record<string, unknown> } | undefined)?.error;
  const { code: _c, message: _m, ...details } = err ?? {};
  const text = typeof e.body === 'string' && e.body ? `: ${e.body.slice(0, 200)}` : '';
  return new ApiResponseError(e.status, e.code, err?.message ?? `HTTP ${e.status} from ${base}${text}`, details);
}

export function describeFetchError(e: unknown): string {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } } | undefined;
  if (err?.name === 'TimeoutError') return 'no answer within the timeout';
  const code = err?.cause?.code;
  if (code === 'ECONNREFUSED') return 'connection refused (is the node running? start one with `hotledger start --devnet`)';
  if (code === 'ENOTFOUND') return 'host not found';
  if (code) return `${code}${err?.cause?.message ? ` (${err.cause.message})` : ''}`;
  return err?.cause?.message ?? err?.message ?? String(e);
}
