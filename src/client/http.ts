import { ClientError } from './errors.js';

export interface HttpOptions {
  /** Per attempt. Default 10,000 ms. */
  requestTimeoutMs: number;
  /** How many times a 429/503 is retried after waiting its Retry-After. Default 5. */
  maxRetries: number;
  /** Upper bound of one wait, whatever Retry-After says. Default 5,000 ms. */
  maxBackoffMs: number;
}

export interface Answer {
  status: number;
  body: unknown;
  endpoint: string;
  /** The Retry-After header, in seconds, when the node sent one. */
  retryAfterSec: number | undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Base URLs and the policy for one request: 429/503 wait Retry-After (bounded) and retry, on any
 * endpoint; a network failure moves to the next endpoint at once. Only requests that are safe to
 * repeat come here (GETs, and submissions of already-signed bytes, which keep their ids).
 */
export class Endpoints {
  private next = 0;
  readonly urls: string[];
  constructor(
    urls: string[],
    private readonly opts: HttpOptions,
  ) {
    if (urls.length === 0) throw new TypeError('at least one endpoint URL');
    this.urls = urls.map((u) => u.replace(/\/+$/, ''));
  }

  /** Round robin: the start of the next request's endpoint order. */
  pick(): number {
    const i = this.next;
    this.next = (this.next + 1) % this.urls.length;
    return i;
  }

  async request(
    path: string,
    init: { method?: string; body?: Uint8Array; contentType?: string } = {},
    opts: { start?: number; only?: string; allow404?: boolean; accept?: readonly number[] } = {},
  ): Promise<Answer> {
    const order = opts.only !== undefined ? [opts.only] : this.rotation(opts.start ?? this.pick());
    let last: ClientError | undefined;
    let retries = 0;
    for (let i = 0; ; ) {
      const base = order[i % order.length]!;
      try {
        const a = await this.once(base, path, init);
        // `accept`: statuses that are an answer, not a failure (a health report is 503 when DOWN).
        if (a.status < 400 || (opts.allow404 && a.status === 404) || opts.accept?.includes(a.status)) return a;
        const err = answerError(a);
        if ((a.status === 429 || a.status === 503) && retries < this.opts.maxRetries) {
          retries++;
          last = err;
          await sleep(Math.min(err.retryAfterMs ?? 1000, this.opts.maxBackoffMs) * (0.9 + Math.random() * 0.2));
          continue; // the same endpoint: it asked us to come back; a 503 of a down node is a network failure instead
        }
        throw err;
      } catch (e) {
        // A slim (archive) node among the endpoints refuses submissions: the next endpoint may take them.
        const elsewhere = e instanceof ClientError && (e.code === 'NETWORK' || e.code === 'TIMEOUT' || e.code === 'ROLE_READ_ONLY');
        if (!elsewhere) throw e;
        last = e;
        i++;
        if (i >= order.length) throw last;
      }
    }
  }

  private rotation(start: number): string[] {
    return this.urls.map((_, k) => this.urls[(start + k) % this.urls.length]!);
  }

  private async once(base: string, path: string, init: { method?: string; body?: Uint8Array; contentType?: string }): Promise<Answer> {
    let r: Response;
    try {
      r = await fetch(base + path, {
        method: init.method ?? 'GET',
        ...(init.body && { body: init.body as unknown as RequestInit['body'], headers: { 'content-type': init.contentType ?? 'application/octet-stream' } }),
        signal: AbortSignal.timeout(this.opts.requestTimeoutMs),
      });
    } catch (e) {
      const name = (e as Error).name;
      if (name === 'TimeoutError' || name === 'AbortError')
        throw new ClientError('TIMEOUT', `${base}${path}: no answer within ${this.opts.requestTimeoutMs} ms`, { retrySafe: true, cause: e });
      throw new ClientError('NETWORK', `${base}${path}: ${(e as Error & { cause?: Error }).cause?.message ?? (e as Error).message}`, { retrySafe: true, cause: e });
    }
    const text = await r.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    const ra = Number(r.headers.get('retry-after') ?? Number.NaN);
    return { status: r.status, body, endpoint: base, retryAfterSec: Number.isFinite(ra) ? ra : undefined };
  }
}

function answerError(a: Answer): ClientError {
  const e = (a.body as { error?: { code?: string; message?: string; retryAfter?: number } } | undefined)?.error;
  const secs = a.retryAfterSec ?? e?.retryAfter;
  const code = e?.code ?? `HTTP_${a.status}`;
  return new ClientError(code, `${a.endpoint}: ${a.status} ${code}: ${e?.message ?? ''}`, {
    status: a.status,
    retrySafe: a.status === 429 || a.status === 503 || a.status === 408,
    ...(secs !== undefined && { retryAfterMs: secs * 1000 }),
    body: a.body,
  });
}
