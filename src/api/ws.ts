import type { Logger } from 'pino';
import type { CommittedBlockEvent, NodeApi } from '../node/node-api.js';
import { rejectMessage, rejectName, HotledgerError } from '../errors.js';
import { TX_ID_SIZE } from '../tx/layout.js';
import type { ApiMetrics } from '../metrics/api-metrics.js';
import type { Config } from '../config/schema.js';
import type { HttpResponse, TemplatedApp, WebSocket } from './uws.js';
import { submissionCharge, submitBinary } from './submit.js';
import { JSON_TYPE, txStatusJson } from './routes.js';
import { TokenBucket } from '../limits/token-bucket.js';
import { clientKey } from './client-address.js';
import { ApiError, errorBody, statusLine } from './errors.js';
import type { ApiLimits } from './limits.js';

export const WS_PATH = '/api/v11/ws';
/** Close code for a consumer that cannot keep up or keeps flooding (RFC 6455 1008 "policy violation"). */
export const CLOSE_SLOW_CONSUMER = 1008;
export const CLOSE_POLICY = 1008;
export const CLOSE_GOING_AWAY = 1001;

interface Conn {
  id: number;
  closed: boolean;
  blocks: boolean;
  blockTxIds: boolean;
  /** Contract events of each block with its header (`subscribe` with `events: true`). */
  blockEvents: boolean;
  watched: Set<string>;
  seq: number;
  /** The previous submission's answer: acks leave in submission order (verification is async). */
  acked: Promise<void>;
  /** The client's limit key (IPv4 address or IPv6 /64). */
  client: string;
  /** Rate-limited messages this connection may still have refused before it is closed (1 back per second). */
  refusals: TokenBucket;
}

type Socket = WebSocket<Conn>;

export interface WsHub {
  connections(): number;
  closeAll(): void;
  dispose(): void;
}

/** Registers the WebSocket route: binary submission with acks, block subscription, tx watch. */
export function attachWebSocket(app: TemplatedApp, node: NodeApi, cfg: Config['api'], metrics: ApiMetrics, logger: Logger, limits: ApiLimits): WsHub {
  const sockets = new Set<Socket>();
  /** tx id hex → sockets watching it. */
  const watchers = new Map<string, Set<Socket>>();
  let nextId = 1;
  const limit = cfg.wsMaxBackpressureBytes;

  function dropSlow(ws: Socket, why: string): void {
    const c = ws.getUserData();
    if (c.closed) return;
    metrics.wsSlowConsumerCloses.inc();
    logger.warn({ conn: c.id, buffered: ws.getBufferedAmount(), limit }, `closing slow WebSocket consumer: ${why}`);
    // end() runs the close handler synchronously, which forgets the socket.
    ws.end(CLOSE_SLOW_CONSUMER, 'backpressure limit exceeded');
  }

  /** Sends unless the socket's buffer is over the limit, in which case the consumer is dropped. */
  function send(ws: Socket, msg: string): boolean {
    const c = ws.getUserData();
    if (c.closed) return false;
    if (ws.getBufferedAmount() > limit) {
      dropSlow(ws, 'buffered amount above api.wsMaxBackpressureBytes');
      return false;
    }
    const r = ws.send(msg, false);
    if (r === 2) {
      dropSlow(ws, 'message dropped by uWS backpressure');
      return false;
    }
    return true;
  }

  function unwatch(ws: Socket, idHex: string): void {
    const set = watchers.get(idHex);
    if (!set) return;
    set.delete(ws);
    if (set.size === 0) watchers.delete(idHex);
  }

  function onText(ws: Socket, text: string): void {
    let msg: { op?: unknown; topic?: unknown; ids?: unknown; txIds?: unknown; events?: unknown };
    try {
      msg = JSON.parse(text) as typeof msg;
      if (typeof msg !== 'object' || msg === null || Array.isArray(msg)) throw new Error('not an object');
    } catch {
      send(ws, JSON.stringify({ type: 'error', code: 'BAD_REQUEST', message: 'text frames must be JSON objects with an "op"' }));
      return;
    }
    const c = ws.getUserData();
    switch (msg.op) {
      case 'subscribe':
      case 'unsubscribe': {
        if (msg.topic !== 'blocks') {
          send(ws, JSON.stringify({ type: 'error', code: 'BAD_REQUEST', message: 'the only topic is "blocks"' }));
          return;
        }
        c.blocks = msg.op === 'subscribe';
        c.blockTxIds = c.blocks && msg.txIds === true;
        c.blockEvents = c.blocks && msg.events === true;
        send(ws, JSON.stringify({ type: msg.op === 'subscribe' ? 'subscribed' : 'unsubscribed', topic: 'blocks' }));
        return;
      }
      case 'watch':
      case 'unwatch': {
        const ids = msg.ids;
        if (!Array.isArray(ids) || ids.some((i) => typeof i !== 'string' || !/^[0-9a-fA-F]{64}$/.test(i))) {
          send(ws, JSON.stringify({ type: 'error', code: 'BAD_REQUEST', message: `"ids" must be an array of ${TX_ID_SIZE * 2}-hex-digit transaction ids` }));
          return;
        }
        const list = (ids as string[]).map((i) => i.toLowerCase());
        if (msg.op === 'unwatch') {
          for (const id of list) {
            c.watched.delete(id);
            unwatch(ws, id);
          }
          send(ws, JSON.stringify({ type: 'watching', count: c.watched.size }));
          return;
        }
        const fresh = list.filter((id) => !c.watched.has(id));
        if (c.watched.size + fresh.length > cfg.wsMaxWatchedIds) {
          send(
            ws,
            JSON.stringify({
              type: 'error',
              code: 'BAD_REQUEST',
              message: `at most ${cfg.wsMaxWatchedIds} watched ids per connection (api.wsMaxWatchedIds)`,
              limit: cfg.wsMaxWatchedIds,
            }),
          );
          return;
        }
        const final: string[] = [];
        for (const id of fresh) {
          // Already decided? Answer now, so a watch placed after the commit is never left hanging.
          const v = node.getTransaction(Buffer.from(id, 'hex'));
          if (v && v.status !== 'pending') {
            final.push(JSON.stringify({ type: 'tx', ...txStatusJson(v) }));
            continue;
          }
          c.watched.add(id);
          let set = watchers.get(id);
          if (!set) watchers.set(id, (set = new Set()));
          set.add(ws);
        }
        send(ws, JSON.stringify({ type: 'watching', count: c.watched.size }));
        for (const f of final) send(ws, f);
        return;
      }
      default:
        send(ws, JSON.stringify({ type: 'error', code: 'BAD_REQUEST', message: 'unknown op; use subscribe, unsubscribe, watch or unwatch' }));
    }
  }

  /**
   * A message past the client's request or tx budget: an error (in order, after earlier acks) with
   * the retry hint; a connection that keeps sending into its refusals is closed.
   */
  function refuse(ws: Socket, err: ApiError, seq: number | undefined): void {
    const c = ws.getUserData();
    const msg = JSON.stringify({ type: 'error', ...(seq !== undefined && { seq }), code: err.code, message: err.message, ...err.details });
    c.acked = c.acked.then(() => void send(ws, msg));
    if (!c.refusals.take(performance.now())) {
      metrics.wsRefused.inc({ reason: 'flooding' });
      logger.warn({ conn: c.id, client: c.client }, 'closing WebSocket that keeps sending past its rate limit');
      c.acked = c.acked.then(() => {
        if (!c.closed) ws.end(CLOSE_POLICY, 'rate limit exceeded');
      });
    }
  }

  function onBinary(ws: Socket, data: Buffer): void {
    const c = ws.getUserData();
    const seq = ++c.seq;
    const refused = limits.submission(c.client, submissionCharge(data.length));
    if (refused) return refuse(ws, refused, seq);
    const outcome = submitBinary(node, data, 'all', metrics, 'ws');
    outcome.catch(() => undefined); // answered in order below
    c.acked = c.acked
      .then(() => outcome)
      .then(
        (o) => void send(ws, JSON.stringify({ type: 'ack', seq, accepted: o.accepted, rejected: o.rejected, results: o.results })),
        (e: unknown) => {
          const code = e instanceof HotledgerError ? e.code : 'INTERNAL';
          const message = e instanceof HotledgerError ? e.message : 'internal error';
          if (!(e instanceof HotledgerError)) logger.error({ err: e }, 'WebSocket submission failed');
          send(ws, JSON.stringify({ type: 'error', seq, code, message }));
        },
      );
  }

  const unsubscribe = node.onBlock((ev: CommittedBlockEvent) => {
    if (sockets.size === 0) return;
    try {
      notifyBlock(ev);
    } catch (e) {
      logger.error({ err: e }, 'WebSocket block notification failed');
    }
  });

  function notifyBlock(ev: CommittedBlockEvent): void {
    // One serialisation per message shape (txIds yes/no × events yes/no), shared by its subscribers.
    const shapes = new Map<number, string>();
    let hex: string | undefined;
    const ids = (): string => (hex ??= ev.txIds.toString('hex'));
    const receipts = ev.receipts ?? [];
    const message = (withIds: boolean, withEvents: boolean): string => {
      const m: Record<string, unknown> = { type: 'block', block: ev.block };
      if (withIds) {
        const all = ids();
        const list: string[] = new Array(ev.statuses.length);
        for (let i = 0; i < list.length; i++) list[i] = all.slice(i * 64, i * 64 + 64);
        m.txIds = list;
      }
      if (withEvents) {
        const events: { txId: string; index: number; contract: string; topic: string; data: string }[] = [];
        for (const { index, receipt } of receipts) for (const e of receipt.events) events.push({ txId: ids().slice(index * 64, index * 64 + 64), index, ...e });
        m.events = events;
      }
      return JSON.stringify(m);
    };
    for (const ws of sockets) {
      const c = ws.getUserData();
      if (!c.blocks) continue;
      const shape = (c.blockTxIds ? 1 : 0) | (c.blockEvents ? 2 : 0);
      let msg = shapes.get(shape);
      if (msg === undefined) shapes.set(shape, (msg = message(c.blockTxIds, c.blockEvents)));
      send(ws, msg);
    }
    if (watchers.size === 0) return;
    const all = ids();
    const n = ev.statuses.length;
    const receiptAt = receipts.length > 0 ? new Map(receipts.map((r) => [r.index, r.receipt])) : undefined;
    for (let i = 0; i < n && watchers.size > 0; i++) {
      const id = all.slice(i * 64, i * 64 + 64);
      const set = watchers.get(id);
      if (!set) continue;
      watchers.delete(id);
      const status = ev.statuses[i]!;
      const body =
        status === 0
          ? { type: 'tx', status: 'committed', id, height: ev.block.height, position: i, ...(receiptAt?.has(i) && { contract: receiptAt.get(i) }) }
          : {
              type: 'tx',
              status: 'rejected',
              id,
              code: rejectName(status),
              message: rejectMessage[rejectName(status) as keyof typeof rejectMessage] ?? 'unknown',
              height: ev.block.height,
            };
      const msg = JSON.stringify(body);
      for (const ws of set) {
        ws.getUserData().watched.delete(id);
        send(ws, msg);
      }
    }
  }

  app.ws<Conn>(WS_PATH, {
    maxPayloadLength: cfg.maxBodyBytes,
    // uWS drops sends past this; we close first (see send), so it is only a safety net.
    maxBackpressure: limit * 2 + 1024 * 1024,
    closeOnBackpressureLimit: 0,
    idleTimeout: 120,
    sendPingsAutomatically: true,
    upgrade: (res, req, context) => {
      // Every check is made before the upgrade, on what uWS gives synchronously.
      const client = clientKey(res.getRemoteAddressAsText());
      const origin = req.getHeader('origin');
      if (origin !== '' && !sameOrigin(origin, req.getHeader('host')) && !originAllowed(origin, cfg.wsAllowedOrigins)) {
        metrics.wsRefused.inc({ reason: 'origin' });
        return refuseUpgrade(
          res,
          new ApiError('ORIGIN_NOT_ALLOWED', `WebSocket from origin ${JSON.stringify(origin.slice(0, 200))} is not allowed (api.wsAllowedOrigins)`, {
            details: { limit: 'api.wsAllowedOrigins' },
          }),
        );
      }
      const refused = limits.request(client, false) ?? limits.wsAdmit(client);
      if (refused) {
        metrics.wsRefused.inc({ reason: 'limit' });
        return refuseUpgrade(res, refused);
      }
      const conn: Conn = {
        id: nextId++,
        closed: false,
        blocks: false,
        blockTxIds: false,
        blockEvents: false,
        watched: new Set(),
        seq: 0,
        acked: Promise.resolve(),
        client,
        refusals: new TokenBucket(1, cfg.wsMaxRefusals, performance.now()),
      };
      res.upgrade(conn, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
    },
    open: (ws) => {
      sockets.add(ws);
      limits.wsOpened(ws.getUserData().client);
      metrics.wsConnections.inc();
    },
    message: (ws, message, isBinary) => {
      metrics.wsMessages.inc({ kind: isBinary ? 'binary' : 'text' });
      if (isBinary) onBinary(ws, Buffer.from(message.slice(0)));
      else {
        const refused = limits.request(ws.getUserData().client, false);
        if (refused) return refuse(ws, refused, undefined);
        onText(ws, Buffer.from(message).toString('utf8'));
      }
    },
    close: (ws) => {
      const c = ws.getUserData();
      c.closed = true;
      if (sockets.delete(ws)) limits.wsClosed(c.client);
      for (const id of c.watched) unwatch(ws, id);
      c.watched.clear();
      metrics.wsConnections.dec();
    },
  });

  return {
    connections: () => sockets.size,
    closeAll: () => {
      for (const ws of [...sockets]) if (!ws.getUserData().closed) ws.end(CLOSE_GOING_AWAY, 'server shutting down');
    },
    dispose: () => unsubscribe(),
  };
}

/**
 * Cross-site WebSocket hijacking: a browser sends cookies and ambient credentials with a WebSocket
 * upgrade from any page, and the same-origin policy does not apply to WebSockets; the Origin header
 * (which page scripts cannot forge) is the only thing that tells the server which site opened it.
 * Browsers always send it, so a request without one is a non-browser client and is allowed.
 */
export function originAllowed(origin: string, allowed: readonly string[]): boolean {
  if (allowed.includes('*')) return true;
  const o = origin.toLowerCase().replace(/\/+$/, '');
  return allowed.some((a) => a.toLowerCase().replace(/\/+$/, '') === o);
}

/**
 * The node's own dashboard (served from this origin) opens its WebSocket with Origin equal to the
 * address it was loaded from. A page of another site cannot claim that origin, so this admits no
 * cross-site page that `api.wsAllowedOrigins` would have refused.
 */
export function sameOrigin(origin: string, host: string): boolean {
  return host !== '' && origin.toLowerCase() === `http://${host.toLowerCase()}`;
}

/** An HTTP error answer to an upgrade request, and the connection closed: no WebSocket is made. */
function refuseUpgrade(res: HttpResponse, err: ApiError): void {
  res.cork(() => {
    res.writeStatus(statusLine(err.status));
    res.writeHeader('Content-Type', JSON_TYPE);
    for (const [k, v] of Object.entries(err.headers)) res.writeHeader(k, v);
    res.end(errorBody(err.code, err.message, err.details), true);
  });
}
