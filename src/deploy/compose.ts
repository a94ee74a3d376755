import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ClusterProcessSpec, TopologyPreset } from '../cluster/topology.js';
import { CONTAINER_CONFIG_DIR, CONTAINER_DATA_DIR, type Deployment, nodesOf, planDeployment, processArgs, processConfigDirs, writeDeploymentConfig } from './deployment.js';
import { grafanaDashboard, grafanaDashboardProvider, grafanaDatasource } from './grafana.js';
import { prometheusConfig, prometheusRules, RULES_FILE, yamlText } from './prometheus.js';
import { processResources } from './sizing.js';

/** The committed compose file of each preset, at the repository root. */
export const COMPOSE_FILES: Readonly<Record<TopologyPreset, string>> = {
  'option-b': 'docker-compose-validators-optimized.yml',
  'option-c': 'docker-compose-validators-option-c.yml',
};

/** Image every node container runs: `docker build -f Dockerfile.production -t hotledger:production .` */
// biome-ignore lint/suspicious/noTemplateCurlyInString: Compose interpolates it, not JavaScript
export const IMAGE = '${HOTLEDGER_IMAGE:-hotledger:production}';
export const PROMETHEUS_IMAGE = 'prom/prometheus:v2.53.2';
export const GRAFANA_IMAGE = 'grafana/grafana:11.2.0';

/** Paths of the generated support files, relative to the compose file's directory. */
export function composePaths(preset: TopologyPreset) {
  return {
    configTree: `deploy/compose/${preset}`,
    prometheusConfig: `deploy/prometheus/${preset}/prometheus.yml`,
    rules: `deploy/prometheus/${RULES_FILE}`,
    grafanaDatasource: 'deploy/grafana/provisioning/datasources/hotledger.yml',
    grafanaProvider: 'deploy/grafana/provisioning/dashboards/hotledger.yml',
    grafanaDashboard: 'deploy/grafana/dashboards/hotledger.json',
  };
}

function service(d: Deployment, p: ClusterProcessSpec, preset: TopologyPreset): Record<string, unknown> {
  const nodes = nodesOf(d, p);
  const res = processResources(p.role, nodes.length);
  const apiPorts = nodes.map((n) => n.apiPort);
  return {
    image: IMAGE,
    pull_policy: 'never',
    hostname: p.id,
    command: processArgs(p),
    environment: {
      // The image's HEALTHCHECK asks every listed API for /q/health/ready.
      HEALTHCHECK_PORTS: apiPorts.join(','),
    },
    networks: ['hotledger'],
    expose: nodes.flatMap((n) => [String(n.apiPort), String(n.peerPort)]),
    // Business nodes take the clients' transfers: their APIs are published on the host's loopback.
    ...(p.role === 'business' ? { ports: apiPorts.map((port) => `127.0.0.1:${port}:${port}`) } : {}),
    volumes: [
      ...processConfigDirs(d, p).map((dir) => ({
        type: 'bind',
        source: `./${composePaths(preset).configTree}/${dir}`,
        target: `${CONTAINER_CONFIG_DIR}/${dir}`,
        read_only: true,
      })),
      { type: 'volume', source: `${p.id}-data`, target: CONTAINER_DATA_DIR },
    ],
    // 26 nodes of option-b took 65 s to be ready on a loaded 2-core VM (docs/deploy.md): room for that.
    healthcheck: { start_period: '120s' },
    // The node's own shutdown gives up after 10 s; SIGKILL after that only.
    stop_grace_period: '15s',
    restart: 'unless-stopped',
    deploy: {
      resources: {
        limits: { cpus: String(res.cpuLimit), memory: `${res.memoryLimitMb}M` },
        reservations: { cpus: String(res.cpuRequest), memory: `${res.memoryRequestMb}M` },
      },
    },
    labels: { 'hotledger.role': p.role, 'hotledger.nodes': nodes.map((n) => n.id).join(',') },
  };
}

export function composeCommand(preset: TopologyPreset): string {
  return `hotledger compose --topology ${preset}`;
}

/** The compose document of a preset: one service per process of the topology, plus Prometheus and Grafana. */
export function composeDocument(preset: TopologyPreset): Record<string, unknown> {
  const d = planDeployment({ topology: preset, target: 'compose' });
  const paths = composePaths(preset);
  const services: Record<string, unknown> = {};
  for (const p of d.topology.processes) services[p.id] = service(d, p, preset);
  services.prometheus = {
    image: PROMETHEUS_IMAGE,
    command: ['--config.file=/etc/prometheus/prometheus.yml', '--storage.tsdb.path=/prometheus', '--storage.tsdb.retention.time=15d'],
    networks: ['hotledger'],
    ports: ['127.0.0.1:9090:9090'],
    volumes: [
      { type: 'bind', source: `./${paths.prometheusConfig}`, target: '/etc/prometheus/prometheus.yml', read_only: true },
      { type: 'bind', source: `./${paths.rules}`, target: `/etc/prometheus/${RULES_FILE}`, read_only: true },
      { type: 'volume', source: 'prometheus-data', target: '/prometheus' },
    ],
    restart: 'unless-stopped',
  };
  services.grafana = {
    image: GRAFANA_IMAGE,
    depends_on: ['prometheus'],
    environment: {
      GF_AUTH_ANONYMOUS_ENABLED: 'true',
      GF_AUTH_ANONYMOUS_ORG_ROLE: 'Viewer',
      GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH: '/var/lib/grafana/dashboards/hotledger.json',
    },
    networks: ['hotledger'],
    ports: ['127.0.0.1:3000:3000'],
    volumes: [
      { type: 'bind', source: './deploy/grafana/provisioning', target: '/etc/grafana/provisioning', read_only: true },
      { type: 'bind', source: './deploy/grafana/dashboards', target: '/var/lib/grafana/dashboards', read_only: true },
      { type: 'volume', source: 'grafana-data', target: '/var/lib/grafana' },
    ],
    restart: 'unless-stopped',
  };
  const volumes: Record<string, Record<string, never>> = {};
  for (const p of d.topology.processes) volumes[`${p.id}-data`] = {};
  volumes['prometheus-data'] = {};
  volumes['grafana-data'] = {};
  return {
    services,
    networks: { hotledger: { driver: 'bridge' } },
    volumes,
  };
}

/**
 * Writes the compose file of a preset and everything it mounts (config tree, prometheus.yml,
 * rules, Grafana provisioning and dashboard) under `root`, the compose file's directory.
 * Returns the files' paths relative to `root`.
 */
export function writeCompose(preset: TopologyPreset, root: string, composeFile = COMPOSE_FILES[preset]): string[] {
  const cmd = composeCommand(preset);
  const paths = composePaths(preset);
  const d = planDeployment({ topology: preset, target: 'compose' });
  const files: Record<string, string> = {
    [composeFile]: yamlText(composeDocument(preset), cmd),
    [paths.prometheusConfig]: yamlText(prometheusConfig(d.topology), cmd),
    // Shared by every preset: named after no preset, so regenerating either leaves them identical.
    [paths.rules]: yamlText(prometheusRules(), 'hotledger compose'),
    [paths.grafanaDatasource]: yamlText(grafanaDatasource('http://prometheus:9090'), 'hotledger compose'),
    [paths.grafanaProvider]: yamlText(grafanaDashboardProvider('/var/lib/grafana/dashboards'), 'hotledger compose'),
    [paths.grafanaDashboard]: `${JSON.stringify(grafanaDashboard(), null, 2)}\n`,
  };
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, rel)), { recursive: true });
    writeFileSync(join(root, rel), text);
  }
  writeDeploymentConfig(d, join(root, paths.configTree));
  return Object.keys(files);
}
