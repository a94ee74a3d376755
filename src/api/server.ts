import type { Logger } from 'pino';
import type { NodeApi, HealthCheck } from '../node/node-api.js';
import type { Config } from '../config/schema.js';
import { HotledgerError } from '../errors.js';
import { apiMetrics, type ApiMetrics } from '../metrics/api-metrics.js';
import { loadUws, type HttpResponse, type UwsBinding, type us_listen_socket } from './uws.js';
import { ApiError, statusLine, toErrorReply } from './errors.js';
import { readBody, tooLarge, type RequestState } from './body.js';
import { buildRouter, methodNotAllowed, JSON_TYPE, BINARY_TYPE } from './routes.js';
import { clientKey } from './client-address.js';
import { ApiLimits } from './limits.js';
import { JsonDecoder } from './json-decoder.js';
import { submissionCharge } from './submit.js';
import type { Reply, RequestContext, Route } from './router.js';
import { attachWebSocket } from './ws.js';

export interface ApiServer {
  /** The bound port (the real one when `cfg.port` was 0). */
  readonly port: number;
  readonly host: string;
  /** `http://host:port` */
  readonly url: string;
  /** Which uWS binary serves (always native: startApiServer refuses the fallback). */
  readonly binding: UwsBinding;
  /** Stops listening, closes WebSockets (1001), detaches from the node. Idempotent. */
  close(): Promise<void>;
}

/** Starts the HTTP + WebSocket API of `node` on uWebSockets.js (native binary required). */
export async function startApiServer(node: NodeApi, cfg: Config['api'], logger: Logger): Promise<ApiServer> {
  const { uws, binding } = loadUws();
  const metrics = apiMetrics(node.metrics);
  let closing = false;
  const apiChecks = (): HealthCheck[] => [{ name: 'api', status: closing ? 'DOWN' : 'UP', data: { nativeUws: binding.native } }];
  const limits = new ApiLimits(cfg, metrics);
  const decoder = new JsonDecoder(cfg.maxJsonTxs);
  const router = buildRouter({ node, metrics, apiChecks, decoder, limits });
  const app = uws.App();
  const hub = attachWebSocket(app, node, cfg, metrics, logger, limits);
  const inflight = new Set<RequestState>();

  app.any('/*', (res, req) => {
    const start = process.hrtime.bigint();
    // Everything the limits need is read here, synchronously: uWS invalidates req after the first await.
    const client = clientKey(res.getRemoteAddressAsText());
    const method = req.getCaseSensitiveMethod().toUpperCase();
    const path = req.getUrl();
    const match = router.match(method, path);
    const hasBody = req.getHeader('content-length') !== '' || req.getHeader('transfer-encoding') !== '';
    const lengthHeader = req.getHeader('content-length');
    const declaredRaw = lengthHeader === '' ? undefined : Number(lengthHeader);
    const declared = declaredRaw !== undefined && Number.isFinite(declaredRaw) ? declaredRaw : undefined;
    const contentType = mediaType(req.getHeader('content-type'));
    // A binary batch with a known length is charged per transaction before its body is read, so a
    // client past its tx budget never makes the server read 32 MiB it will refuse.
    const chargeTxsNow = match.route?.body !== undefined && contentType === BINARY_TYPE && declared !== undefined && declared <= cfg.maxBodyBytes;
    const refused = chargeTxsNow ? limits.submission(client, submissionCharge(declared)) : limits.request(client, path === '/q/health' || path.startsWith('/q/health/'));
    if (refused) {
      // A body may be on the wire: close the connection rather than read it.
      respondError(res, { aborted: false, done: false }, refused, method, match.route ? match.route.pattern : (match.pattern ?? 'unmatched'), start, hasBody);
      return;
    }
    if (!match.route) {
      const err = match.allowed.length ? methodNotAllowed(method, match.allowed) : new ApiError('NOT_FOUND', `no route for ${method} ${path.slice(0, 200)}`);
      const state: RequestState = { aborted: false, done: false };
      // A request body may still be on the wire: close the connection rather than read it.
      respondError(res, state, err, method, match.pattern ?? 'unmatched', start, hasBody);
      return;
    }
    const route = match.route;
    const ctx: RequestContext = {
      method,
      path,
      query: req.getQuery() ?? '',
      params: match.params,
      contentType,
      body: undefined,
      client,
      txsCharged: chargeTxsNow,
    };
    if (route.conditional) ctx.ifNoneMatch = req.getHeader('if-none-match') || undefined;
    const state: RequestState = { aborted: false, done: false };
    if (route.body) {
      if (!route.body.includes(ctx.contentType)) {
        const err = new ApiError('UNSUPPORTED_MEDIA_TYPE', `Content-Type must be ${route.body.join(' or ')} (got ${ctx.contentType || 'none'})`, {
          details: { accepted: route.body },
        });
        respondError(res, state, err, method, route.pattern, start, true);
        return;
      }
      if (declared !== undefined && declared > cfg.maxBodyBytes) {
        respondError(res, state, tooLarge(cfg.maxBodyBytes), method, route.pattern, start, true);
        return;
      }
      const slot = limits.openBody(client, declared);
      if (slot instanceof ApiError) {
        // Refused before a byte of the body is read; the connection goes with the answer.
        respondError(res, state, slot, method, route.pattern, start, true);
        return;
      }
      // onData and onAborted are registered here, synchronously, before any await.
      const reader = readBody(res, { maxBytes: cfg.maxBodyBytes, declared, slot, timeoutMs: cfg.bodyTimeoutMs });
      res.onAborted(() => {
        state.aborted = true;
        reader.abort();
        inflight.delete(state);
        metrics.httpAborted.inc({ route: route.pattern });
      });
      inflight.add(state);
      reader.body
        .then(
          (body) => {
            ctx.body = body;
            return run(res, state, route, ctx, start);
          },
          (e: unknown) => {
            if (e instanceof ApiError && e.code === 'REQUEST_TIMEOUT') metrics.bodyTimeouts.inc();
            respondError(res, state, e, method, route.pattern, start, true);
          },
        )
        .finally(() => inflight.delete(state));
      return;
    }
    let out: Reply | Promise<Reply>;
    try {
      out = route.handler(ctx);
    } catch (e) {
      respondError(res, state, e, method, route.pattern, start, false);
      return;
    }
    if (out instanceof Promise) {
      res.onAborted(() => {
        state.aborted = true;
        metrics.httpAborted.inc({ route: route.pattern });
      });
      out.then(
        (reply) => respond(res, state, reply, method, route.pattern, start),
        (e: unknown) => respondError(res, state, e, method, route.pattern, start, false),
      );
      return;
    }
    respond(res, state, out, method, route.pattern, start);
  });

  async function run(res: HttpResponse, state: RequestState, route: Route, ctx: RequestContext, start: bigint): Promise<void> {
    try {
      const reply = await route.handler(ctx);
      respond(res, state, reply, ctx.method, route.pattern, start);
    } catch (e) {
      respondError(res, state, e, ctx.method, route.pattern, start, false);
    }
  }

  function respond(res: HttpResponse, state: RequestState, reply: Reply, method: string, route: string, start: bigint, closeConnection = false): void {
    if (state.aborted || state.done) return;
    state.done = true;
    const status = reply.status ?? 200;
    res.cork(() => {
      res.writeStatus(statusLine(status));
      res.writeHeader('Content-Type', reply.contentType ?? JSON_TYPE);
      if (reply.headers) for (const [k, v] of Object.entries(reply.headers)) res.writeHeader(k, v);
      res.end(reply.body, closeConnection);
    });
    observe(metrics, method, route, status, start);
  }

  function respondError(res: HttpResponse, state: RequestState, e: unknown, method: string, route: string, start: bigint, closeConnection: boolean): void {
    const r = toErrorReply(e);
    if (r.internal) logger.error({ err: e, route }, 'API request failed');
    respond(res, state, { status: r.status, body: r.body, headers: r.headers }, method, route, start, closeConnection);
  }

  const listenSocket = await new Promise<us_listen_socket>((resolve, reject) => {
    app.listen(cfg.host, cfg.port, (s) => {
      if (s) resolve(s);
      else reject(new HotledgerError('CONFIG_INVALID', `cannot listen on ${cfg.host}:${cfg.port} (address in use or not available)`, { key: 'api.port' }));
    });
  });
  const port = uws.us_socket_local_port(listenSocket as never);
  const hostForUrl = cfg.host.includes(':') ? `[${cfg.host}]` : cfg.host;
  const url = `http://${hostForUrl}:${port}`;
  logger.info({ url, binary: binding.binary }, 'API listening');
  let closed: Promise<void> | undefined;

  return {
    port,
    host: cfg.host,
    url,
    binding,
    close: () =>
      (closed ??= (async () => {
        closing = true;
        uws.us_listen_socket_close(listenSocket);
        hub.closeAll();
        hub.dispose();
        // Let in-flight body reads finish briefly; uWS aborts the rest when the app goes.
        for (let i = 0; i < 20 && inflight.size > 0; i++) await new Promise((r) => setTimeout(r, 25));
        (app as unknown as { close?: () => void }).close?.();
        limits.dispose();
        await decoder.close();
        logger.info({ url }, 'API closed');
      })()),
  };
}

const METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']);

function observe(metrics: ApiMetrics, method: string, route: string, status: number, start: bigint): void {
  // Labels stay bounded: route patterns, not raw paths; unknown methods folded into OTHER.
  const labels = { method: METHODS.has(method) ? method : 'OTHER', route, status: String(status) };
  metrics.httpRequests.inc(labels);
  metrics.httpDuration.observe(labels, Number(process.hrtime.bigint() - start) / 1e9);
}

/** `application/json; charset=utf-8` → `application/json` */
function mediaType(header: string): string {
  const semi = header.indexOf(';');
  return (semi < 0 ? header : header.slice(0, semi)).trim().toLowerCase();
}
