import type { Config } from '../config/schema.js';
import { KeyedLimiter } from '../limits/token-bucket.js';
import type { ApiMetrics } from '../metrics/api-metrics.js';
import { ApiError } from './errors.js';

type ApiConfig = Config['api'];

/** How long to wait, as a Retry-After header value: whole seconds, at least 1. */
export function retryAfterSeconds(waitMs: number): number {
  return Math.max(1, Math.ceil(waitMs / 1000));
}

/** 429 for a client past its own share; `limit` names the config key that bound it. */
export function rateLimited(limit: string, waitMs: number, message: string): ApiError {
  const retryAfter = retryAfterSeconds(waitMs);
  return new ApiError('RATE_LIMITED', message, { status: 429, headers: { 'Retry-After': String(retryAfter) }, details: { limit, retryAfter } });
}

/** 503 when the node as a whole is at a capacity limit. */
export function overloaded(limit: string, message: string): ApiError {
  return new ApiError('OVERLOADED', message, { status: 503, headers: { 'Retry-After': '1' }, details: { limit, retryAfter: 1 } });
}

/**
 * A body being read: counted against the global and per-client caps until released. `add` accounts
 * received bytes and answers false once the buffered total would pass api.maxBufferedBodyBytes.
 */
export interface BodySlot {
  add(bytes: number): boolean;
  /** Gives back the slot and every byte it holds; idempotent. */
  release(): void;
}

/**
 * The API's per-client and global limits, in one place: token buckets (requests, transactions,
 * health probes) per client key, bodies being read and their buffered bytes, open WebSockets.
 * Everything here is synchronous and runs on the uWS thread.
 */
export class ApiLimits {
  private readonly requests: KeyedLimiter<string>;
  private readonly txs: KeyedLimiter<string>;
  private readonly health: KeyedLimiter<string>;
  private readonly bodiesByKey = new Map<string, number>();
  private bodies = 0;
  private buffered = 0;
  private readonly socketsByKey = new Map<string, number>();
  private sockets = 0;
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    readonly cfg: ApiConfig,
    private readonly metrics: ApiMetrics,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.requests = new KeyedLimiter(cfg.rateLimitPerSec, cfg.rateLimitBurst);
    this.txs = new KeyedLimiter(cfg.txRateLimitPerSec, cfg.txRateLimitBurst);
    this.health = new KeyedLimiter(cfg.healthRateLimitPerSec, cfg.healthRateLimitPerSec);
    // Idle clients' buckets are full: forget them now and then so memory follows active clients.
    this.sweeper = setInterval(() => {
      const t = this.now();
      this.requests.sweep(t);
      this.txs.sweep(t);
      this.health.sweep(t);
    }, 10_000);
    this.sweeper.unref();
  }

  /** One request (or WebSocket message) from `key`; health probes draw on their own bucket. */
  request(key: string, isHealth: boolean): ApiError | undefined {
    const t = this.now();
    const [bucket, limit] = isHealth ? [this.health, 'api.healthRateLimitPerSec'] : [this.requests, 'api.rateLimitPerSec'];
    if (bucket.take(key, t)) return undefined;
    this.metrics.limited.inc({ limit });
    return rateLimited(limit, bucket.waitMs(key, t), `too many requests from this client (${limit}); retry later`);
  }

  /** Whether `count` transactions from `key` would pass now (nothing taken): refuse a body before reading it. */
  txWaitMs(key: string, count: number): number {
    return this.txs.waitMs(key, this.now(), Math.min(count, this.cfg.txRateLimitBurst));
  }

  /** Takes `count` transactions from `key`'s budget, or answers why not. */
  transactions(key: string, count: number): ApiError | undefined {
    const t = this.now();
    if (count <= 0 || this.txs.take(key, t, count)) return undefined;
    return this.txsRefused(key, count, t);
  }

  txsRefused(key: string, count: number, t = this.now()): ApiError {
    this.metrics.limited.inc({ limit: 'api.txRateLimitPerSec' });
    return rateLimited(
      'api.txRateLimitPerSec',
      this.txs.waitMs(key, t, Math.min(count, this.cfg.txRateLimitBurst)),
      `too many transactions from this client (api.txRateLimitPerSec); ${count} would pass after Retry-After`,
    );
  }

  /** A request (HTTP) or a message (WebSocket) with `txCount` transactions: both budgets or neither. */
  submission(key: string, txCount: number): ApiError | undefined {
    const t = this.now();
    const waitReq = this.requests.waitMs(key, t);
    const waitTx = txCount > 0 ? this.txs.waitMs(key, t, Math.min(txCount, this.cfg.txRateLimitBurst)) : 0;
    if (waitReq > 0) {
      this.metrics.limited.inc({ limit: 'api.rateLimitPerSec' });
      return rateLimited('api.rateLimitPerSec', Math.max(waitReq, waitTx), 'too many requests from this client (api.rateLimitPerSec); retry later');
    }
    if (waitTx > 0) return this.txsRefused(key, txCount, t);
    this.requests.take(key, t);
    if (txCount > 0) this.txs.take(key, t, txCount);
    return undefined;
  }

  /**
   * A slot to read a body of `declared` bytes (undefined: chunked, unknown) from `key`, or why not.
   * The declared length is checked against the buffered budget at once; bytes count as they arrive.
   */
  openBody(key: string, declared: number | undefined): BodySlot | ApiError {
    const mine = this.bodiesByKey.get(key) ?? 0;
    if (mine >= this.cfg.maxConcurrentBodiesPerAddress) {
      this.metrics.limited.inc({ limit: 'api.maxConcurrentBodiesPerAddress' });
      return rateLimited('api.maxConcurrentBodiesPerAddress', 1000, `this client already has ${mine} request bodies being read (api.maxConcurrentBodiesPerAddress)`);
    }
    if (this.bodies >= this.cfg.maxConcurrentBodies) {
      this.metrics.limited.inc({ limit: 'api.maxConcurrentBodies' });
      return overloaded('api.maxConcurrentBodies', 'too many request bodies are being read (api.maxConcurrentBodies); retry later');
    }
    if (declared !== undefined && this.buffered + declared > this.cfg.maxBufferedBodyBytes) {
      this.metrics.limited.inc({ limit: 'api.maxBufferedBodyBytes' });
      return overloaded('api.maxBufferedBodyBytes', 'too many request body bytes are buffered (api.maxBufferedBodyBytes); retry later');
    }
    this.bodies++;
    this.bodiesByKey.set(key, mine + 1);
    this.metrics.bodiesInFlight.set(this.bodies);
    let held = 0;
    let released = false;
    return {
      add: (bytes) => {
        if (released) return false;
        if (this.buffered + bytes > this.cfg.maxBufferedBodyBytes) {
          this.metrics.limited.inc({ limit: 'api.maxBufferedBodyBytes' });
          return false;
        }
        held += bytes;
        this.buffered += bytes;
        this.metrics.bufferedBodyBytes.set(this.buffered);
        return true;
      },
      release: () => {
        if (released) return;
        released = true;
        this.buffered -= held;
        held = 0;
        this.bodies--;
        const n = (this.bodiesByKey.get(key) ?? 1) - 1;
        if (n <= 0) this.bodiesByKey.delete(key);
        else this.bodiesByKey.set(key, n);
        this.metrics.bodiesInFlight.set(this.bodies);
        this.metrics.bufferedBodyBytes.set(this.buffered);
      },
    };
  }

  /** Whether a WebSocket from `key` may be opened now (checked before the upgrade). */
  wsAdmit(key: string): ApiError | undefined {
    const mine = this.socketsByKey.get(key) ?? 0;
    if (mine >= this.cfg.wsMaxConnectionsPerAddress) {
      this.metrics.limited.inc({ limit: 'api.wsMaxConnectionsPerAddress' });
      return rateLimited('api.wsMaxConnectionsPerAddress', 1000, `this client already has ${mine} WebSockets open (api.wsMaxConnectionsPerAddress)`);
    }
    if (this.sockets >= this.cfg.wsMaxConnections) {
      this.metrics.limited.inc({ limit: 'api.wsMaxConnections' });
      return overloaded('api.wsMaxConnections', 'too many WebSockets are open (api.wsMaxConnections); retry later');
    }
    return undefined;
  }

  wsOpened(key: string): void {
    this.sockets++;
    this.socketsByKey.set(key, (this.socketsByKey.get(key) ?? 0) + 1);
  }

  wsClosed(key: string): void {
    this.sockets--;
    const n = (this.socketsByKey.get(key) ?? 1) - 1;
    if (n <= 0) this.socketsByKey.delete(key);
    else this.socketsByKey.set(key, n);
  }

  /** Bodies being read and their buffered bytes (tests, the stats of the API layer). */
  usage(): { bodies: number; bufferedBytes: number; sockets: number } {
    return { bodies: this.bodies, bufferedBytes: this.buffered, sockets: this.sockets };
  }

  dispose(): void {
    clearInterval(this.sweeper);
  }
}
