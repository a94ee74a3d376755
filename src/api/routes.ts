import type { HealthCheck, NodeApi, TxStatusView } from '../node/node-api.js';
import { rejectMessage } from '../errors.js';
import { KEY_SIZE, TX_ID_SIZE } from '../tx/layout.js';
import type { ApiMetrics } from '../metrics/api-metrics.js';
import { ApiError, badRequest, notFound } from './errors.js';
import { Router, type Reply, type RequestContext } from './router.js';
import { parseResultsMode, submissionCharge, submitBinary, throwIfNoneAccepted, type SubmitOutcome } from './submit.js';
import type { JsonDecoder } from './json-decoder.js';
import type { ApiLimits } from './limits.js';
import { dashboardRoutes } from '../dashboard/assets.js';

export const API_PREFIX = '/api/v11';
export const JSON_TYPE = 'application/json';
export const BINARY_TYPE = 'application/octet-stream';

export function json(value: unknown, status = 200, headers?: Record<string, string>): Reply {
  return { status, body: JSON.stringify(value), contentType: JSON_TYPE, headers };
}

export function parseHexParam(v: string, bytes: number, what: string): Buffer {
  if (v.length !== bytes * 2 || !/^[0-9a-fA-F]+$/.test(v)) throw badRequest(`${what} must be ${bytes * 2} hex digits`, { value: v.slice(0, 200) });
  return Buffer.from(v, 'hex');
}

export function queryParam(query: string, key: string): string | undefined {
  if (!query) return undefined;
  for (const kv of query.split('&')) {
    const eq = kv.indexOf('=');
    const k = eq < 0 ? kv : kv.slice(0, eq);
    if (k === key) {
      try {
        return decodeURIComponent(eq < 0 ? '' : kv.slice(eq + 1));
      } catch {
        throw badRequest(`query parameter ${key} is not valid percent-encoding`);
      }
    }
  }
  return undefined;
}

/** Every value of a repeated query parameter (`?key=a&key=b`), in order. */
export function queryParams(query: string, key: string): string[] {
  const out: string[] = [];
  if (!query) return out;
  for (const kv of query.split('&')) {
    const eq = kv.indexOf('=');
    if ((eq < 0 ? kv : kv.slice(0, eq)) !== key) continue;
    try {
      out.push(decodeURIComponent(eq < 0 ? '' : kv.slice(eq + 1)));
    } catch {
      throw badRequest(`query parameter ${key} is not valid percent-encoding`);
    }
  }
  return out;
}

/** Storage keys one `GET /contracts/:address` may ask for, and the longest key: each is one LMDB read. */
export const MAX_CONTRACT_KEYS = 64;
export const MAX_CONTRACT_KEY_BYTES = 1024;

/** The JSON of a transaction status, rejection codes explained in words. */
export function txStatusJson(v: TxStatusView): Record<string, unknown> {
  if (v.status === 'rejected') return { ...v, message: rejectMessage[v.code] ?? v.code };
  return { ...v };
}

function healthReply(checks: HealthCheck[]): Reply {
  const up = checks.every((c) => c.status === 'UP');
  return json({ status: up ? 'UP' : 'DOWN', checks }, up ? 200 : 503);
}

export interface RouteDeps {
  node: NodeApi;
  metrics: ApiMetrics;
  /** Checks the API layer adds to readiness (e.g. "api" DOWN while shutting down). */
  apiChecks: () => HealthCheck[];
  /** JSON submissions → binary, large ones off the main thread. */
  decoder: JsonDecoder;
  limits: ApiLimits;
}

export function buildRouter({ node, metrics, apiChecks, decoder, limits }: RouteDeps): Router {
  const r = new Router();
  const get = (pattern: string, handler: (ctx: RequestContext) => Reply | Promise<Reply>) => r.add({ method: 'GET', pattern, handler });

  get(`${API_PREFIX}/info`, () => json(node.info()));
  get(`${API_PREFIX}/stats`, () => json(node.stats()));
  get(`${API_PREFIX}/consensus/status`, () => json(node.consensusStatus()));

  r.add({
    method: 'POST',
    pattern: `${API_PREFIX}/transactions`,
    body: [JSON_TYPE, BINARY_TYPE],
    handler: async (ctx) => {
      const mode = parseResultsMode(queryParam(ctx.query, 'results'));
      const body = ctx.body ?? Buffer.alloc(0);
      const txs = ctx.contentType === BINARY_TYPE ? body : await decoder.decode(body);
      // Charged per transaction: a 10,000-tx batch costs 10,000 tokens, a GET one request token.
      if (!ctx.txsCharged) {
        const refused = limits.transactions(ctx.client, submissionCharge(txs.length));
        if (refused) throw refused;
      }
      const outcome: SubmitOutcome = await submitBinary(node, txs, mode, metrics, 'http');
      throwIfNoneAccepted(outcome);
      return json({ accepted: outcome.accepted, rejected: outcome.rejected, results: outcome.results }, 202);
    },
  });

  get(`${API_PREFIX}/transactions/:id`, (ctx) => {
    const id = parseHexParam(ctx.params[0]!, TX_ID_SIZE, 'transaction id');
    const v = node.getTransaction(id);
    if (!v) throw notFound(`transaction ${id.toString('hex')} is not known to this node`, { id: id.toString('hex') });
    return json(txStatusJson(v));
  });

  get(`${API_PREFIX}/blocks/latest`, () => {
    const b = node.getBlock('latest');
    if (!b) throw notFound('no block has been committed yet');
    return json(b);
  });
  get(`${API_PREFIX}/blocks/:height`, (ctx) => {
    const raw = ctx.params[0]!;
    if (!/^\d{1,16}$/.test(raw) || !Number.isSafeInteger(Number(raw)))
      throw badRequest(`block height must be a non-negative integer or "latest" (got ${JSON.stringify(raw.slice(0, 100))})`);
    const height = Number(raw);
    const b = node.getBlock(height);
    if (!b) throw notFound(`no block at height ${height}`, { height });
    return json(b);
  });

  get(`${API_PREFIX}/accounts/:publicKey`, (ctx) => {
    const pk = parseHexParam(ctx.params[0]!, KEY_SIZE, 'account public key');
    const a = node.getAccount(pk);
    if (!a) throw notFound(`account ${pk.toString('hex')} does not exist`, { publicKey: pk.toString('hex') });
    return json({ publicKey: a.publicKey.toLowerCase(), balance: String(a.balance), nonce: a.nonce });
  });

  get(`${API_PREFIX}/contracts/:address`, (ctx) => {
    const address = parseHexParam(ctx.params[0]!, KEY_SIZE, 'contract address');
    const raw = queryParams(ctx.query, 'key');
    if (raw.length > MAX_CONTRACT_KEYS) throw badRequest(`at most ${MAX_CONTRACT_KEYS} storage keys per request (got ${raw.length})`, { limit: MAX_CONTRACT_KEYS });
    const keys = raw.map((k) => {
      if (k.length % 2 !== 0 || k.length > MAX_CONTRACT_KEY_BYTES * 2 || !/^[0-9a-fA-F]*$/.test(k))
        throw badRequest(`storage key must be hex of at most ${MAX_CONTRACT_KEY_BYTES} bytes (got ${JSON.stringify(k.slice(0, 100))})`, { key: k.slice(0, 200) });
      return Buffer.from(k, 'hex');
    });
    const c = node.getContract(address, keys);
    if (!c) throw new ApiError('CONTRACT_NOT_FOUND', `no contract at ${address.toString('hex')}`, { status: 404, details: { address: address.toString('hex') } });
    return json({ ...c, balance: String(c.balance) });
  });

  get('/q/health', () => {
    const h = node.health();
    // A check may be both a liveness and a readiness check: list it once.
    const seen = new Set<string>();
    return healthReply([...h.live, ...h.ready, ...apiChecks()].filter((c) => !seen.has(c.name) && seen.add(c.name)));
  });
  get('/q/health/live', () => healthReply(node.health().live));
  get('/q/health/ready', () => healthReply([...node.health().ready, ...apiChecks()]));
  get('/q/metrics', async () => {
    const text = await node.metrics.metrics();
    return { status: 200, body: text, contentType: node.metrics.contentType };
  });
  // The dashboard (docs/dashboard.md): static files held in memory, exact paths only.
  for (const route of dashboardRoutes()) r.add(route);
  return r;
}

export function methodNotAllowed(method: string, allowed: string[]): ApiError {
  return new ApiError('METHOD_NOT_ALLOWED', `method ${method} is not allowed here; use ${allowed.join(' or ')}`, {
    headers: { Allow: allowed.join(', ') },
    details: { allowed },
  });
}
