/** The Grafana side: a provisioned Prometheus datasource and one dashboard, both generated. */

export const DATASOURCE_UID = 'hotledger-prometheus';

export interface DashboardPanel {
  title: string;
  unit: string;
  /** legendFormat per expression. */
  targets: ReadonlyArray<{ expr: string; legend: string }>;
}

/**
 * Every panel's PromQL. test/deploy/prometheus-live.test.ts runs each against a real Prometheus
 * scraping a real cluster and requires data from each.
 */
export const DASHBOARD_PANELS: readonly DashboardPanel[] = [
  {
    title: 'Committed TPS per node',
    unit: 'reqps',
    targets: [{ expr: 'sum by (node) (rate(hotledger_tx_committed_total[1m]))', legend: '{{node}}' }],
  },
  {
    title: 'Finality (submit to durable commit)',
    unit: 's',
    targets: [0.5, 0.95, 0.99].map((q) => ({
      expr: `histogram_quantile(${q}, sum by (le) (rate(hotledger_commit_latency_seconds_bucket[1m])))`,
      legend: `P${q * 100}`,
    })),
  },
  {
    title: 'Mean time per stage (local batch)',
    unit: 's',
    targets: [{ expr: 'sum by (stage) (rate(hotledger_stage_seconds_sum[1m])) / sum by (stage) (rate(hotledger_stage_seconds_count[1m]))', legend: '{{stage}}' }],
  },
  {
    title: 'View changes (rounds timed out, 5 min)',
    unit: 'short',
    targets: [{ expr: 'sum by (node) (increase(hotledger_consensus_view_changes_total{role="validator"}[5m]))', legend: '{{node}}' }],
  },
  {
    title: 'Mempool fill',
    unit: 'percentunit',
    targets: [{ expr: 'hotledger_mempool_size / hotledger_mempool_capacity', legend: '{{node}}' }],
  },
  {
    title: 'Validator links (authenticated peers)',
    unit: 'short',
    targets: [{ expr: 'hotledger_consensus_connected_peers{role="validator"}', legend: '{{node}}' }],
  },
  {
    title: 'Nodes answering, by role',
    unit: 'short',
    targets: [{ expr: 'sum by (role) (up{job="hotledger"})', legend: '{{role}}' }],
  },
  {
    title: 'Block height',
    unit: 'short',
    targets: [{ expr: 'hotledger_block_height', legend: '{{node}}' }],
  },
  {
    title: 'Memory per logical node (process RSS / its nodes)',
    unit: 'bytes',
    // A host process's nodes all report the one process's RSS: share it among them.
    targets: [
      {
        expr: 'avg by (process, role) (process_resident_memory_bytes{job="hotledger"}) / count by (process, role) (process_resident_memory_bytes{job="hotledger"})',
        legend: '{{process}} ({{role}})',
      },
    ],
  },
];

export function grafanaDashboard(): Record<string, unknown> {
  return {
    uid: 'hotledger-overview',
    title: 'hotledger',
    schemaVersion: 39,
    version: 1,
    editable: true,
    time: { from: 'now-30m', to: 'now' },
    refresh: '10s',
    tags: ['hotledger'],
    templating: { list: [] },
    annotations: { list: [] },
    panels: DASHBOARD_PANELS.map((p, i) => ({
      id: i + 1,
      type: 'timeseries',
      title: p.title,
      datasource: { type: 'prometheus', uid: DATASOURCE_UID },
      gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: Math.floor(i / 2) * 8 },
      fieldConfig: { defaults: { unit: p.unit }, overrides: [] },
      options: { legend: { displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'multi' } },
      targets: p.targets.map((t, k) => ({ refId: String.fromCharCode(65 + k), expr: t.expr, legendFormat: t.legend, datasource: { type: 'prometheus', uid: DATASOURCE_UID } })),
    })),
  };
}

/** provisioning/datasources/hotledger.yml; `url` is Prometheus as Grafana reaches it. */
export function grafanaDatasource(url: string): Record<string, unknown> {
  return {
    apiVersion: 1,
    datasources: [{ name: 'Prometheus', type: 'prometheus', uid: DATASOURCE_UID, access: 'proxy', url, isDefault: true, editable: false }],
  };
}

/** provisioning/dashboards/hotledger.yml: load dashboards from the mounted folder. */
export function grafanaDashboardProvider(folder: string): Record<string, unknown> {
  return {
    apiVersion: 1,
    providers: [{ name: 'hotledger', type: 'file', disableDeletion: true, allowUiUpdates: false, options: { path: folder } }],
  };
}
