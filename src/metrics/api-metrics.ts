import { Counter, Gauge, Histogram, collectDefaultMetrics, type Registry } from 'prom-client';

/** HTTP and WebSocket metrics of the API layer, registered on the node's registry. */
export interface ApiMetrics {
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
  httpAborted: Counter<'route'>;
  wsConnections: Gauge;
  wsMessages: Counter<'kind'>;
  wsSlowConsumerCloses: Counter;
  submittedTxs: Counter<'transport' | 'result'>;
  /** Requests, messages, bodies and upgrades refused by a per-client or global limit, by config key. */
  limited: Counter<'limit'>;
  bodiesInFlight: Gauge;
  bufferedBodyBytes: Gauge;
  bodyTimeouts: Counter;
  wsRefused: Counter<'reason'>;
}

/** Registers (or, when a server is restarted on the same registry, reuses) the API metrics. */
export function apiMetrics(registry: Registry): ApiMetrics {
  function once<T>(name: string, make: () => T): T {
    return (registry.getSingleMetric(name) as T | undefined) ?? make();
  }
  const registers = [registry];
  if (!registry.getSingleMetric('process_cpu_user_seconds_total') && !registry.getSingleMetric('nodejs_eventloop_lag_seconds')) {
    collectDefaultMetrics({ register: registry });
  }
  return {
    httpRequests: once(
      'hotledger_http_requests_total',
      () =>
        new Counter({
          name: 'hotledger_http_requests_total',
          help: 'HTTP requests answered, by route pattern and status',
          labelNames: ['method', 'route', 'status'] as const,
          registers,
        }),
    ),
    httpDuration: once(
      'hotledger_http_request_duration_seconds',
      () =>
        new Histogram({
          name: 'hotledger_http_request_duration_seconds',
          help: 'Time from request to response, by route pattern and status',
          labelNames: ['method', 'route', 'status'] as const,
          buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
          registers,
        }),
    ),
    httpAborted: once(
      'hotledger_http_aborted_total',
      () => new Counter({ name: 'hotledger_http_aborted_total', help: 'HTTP requests aborted by the client before a response', labelNames: ['route'] as const, registers }),
    ),
    wsConnections: once('hotledger_ws_connections', () => new Gauge({ name: 'hotledger_ws_connections', help: 'Open WebSocket connections', registers })),
    wsMessages: once(
      'hotledger_ws_messages_received_total',
      () => new Counter({ name: 'hotledger_ws_messages_received_total', help: 'WebSocket messages received, by kind', labelNames: ['kind'] as const, registers }),
    ),
    wsSlowConsumerCloses: once(
      'hotledger_ws_slow_consumer_closes_total',
      () => new Counter({ name: 'hotledger_ws_slow_consumer_closes_total', help: 'WebSockets closed because their send buffer exceeded api.wsMaxBackpressureBytes', registers }),
    ),
    submittedTxs: once(
      'hotledger_api_submitted_transactions_total',
      () =>
        new Counter({
          name: 'hotledger_api_submitted_transactions_total',
          help: 'Transactions received by the API, by transport and admission result',
          labelNames: ['transport', 'result'] as const,
          registers,
        }),
    ),
    limited: once(
      'hotledger_api_limited_total',
      () =>
        new Counter({
          name: 'hotledger_api_limited_total',
          help: 'Requests, WebSocket messages, bodies and upgrades refused by an API limit, by its config key',
          labelNames: ['limit'] as const,
          registers,
        }),
    ),
    bodiesInFlight: once('hotledger_api_bodies_in_flight', () => new Gauge({ name: 'hotledger_api_bodies_in_flight', help: 'Request bodies being read', registers })),
    bufferedBodyBytes: once(
      'hotledger_api_buffered_body_bytes',
      () => new Gauge({ name: 'hotledger_api_buffered_body_bytes', help: 'Bytes of request bodies buffered while being read (bounded by api.maxBufferedBodyBytes)', registers }),
    ),
    bodyTimeouts: once(
      'hotledger_api_body_timeouts_total',
      () => new Counter({ name: 'hotledger_api_body_timeouts_total', help: 'Request bodies not received within api.bodyTimeoutMs (answered 408, connection closed)', registers }),
    ),
    wsRefused: once(
      'hotledger_ws_refused_total',
      () =>
        new Counter({
          name: 'hotledger_ws_refused_total',
          help: 'WebSocket upgrades refused and connections closed by a limit, by reason',
          labelNames: ['reason'] as const,
          registers,
        }),
    ),
  };
}
