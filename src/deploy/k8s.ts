import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { stringify } from 'yaml';
import type { ClusterProcessSpec, TopologyPreset } from '../cluster/topology.js';
import { faultTolerance } from '../consensus/types.js';
import { CONTAINER_CONFIG_DIR, CONTAINER_DATA_DIR, type Deployment, K8S_PEER_SERVICE, nodesOf, planDeployment, processArgs, writeDeploymentConfig } from './deployment.js';
import { GENERATED_HEADER, prometheusConfig, yamlText } from './prometheus.js';
import { processResources } from './sizing.js';

export const K8S_IMAGE = 'hotledger:production';
/** Not measured: a starting size for a node's LMDB; grow the claim with the chain. */
export const DATA_VOLUME_SIZE = '10Gi';

/**
 * Validator pods that may be voluntarily down at once: the most pods such that, even if the
 * largest ones go, a quorum of validators stays up (the chain keeps committing).
 */
export function validatorMaxUnavailable(podSizes: readonly number[]): number {
  const n = podSizes.reduce((a, b) => a + b, 0);
  const { quorum } = faultTolerance(n);
  const largestFirst = [...podSizes].sort((a, b) => b - a);
  let down = 0;
  let left = n;
  for (const size of largestFirst) {
    if (left - size < quorum) break;
    left -= size;
    down++;
  }
  return down;
}

const labels = (p: ClusterProcessSpec) => ({ 'app.kubernetes.io/name': 'hotledger', 'hotledger.io/role': p.role, 'hotledger.io/process': p.id });

/** node.json, host.json and key files of a process, read back from a generated config tree. */
function processFiles(
  d: Deployment,
  p: ClusterProcessSpec,
  tree: string,
): { config: Record<string, string>; keys: Record<string, string>; items: { config: object[]; keys: object[] } } {
  const config: Record<string, string> = {};
  const keys: Record<string, string> = {};
  const items = { config: [] as object[], keys: [] as object[] };
  if (p.command === 'host') {
    config[`${p.id}.host.json`] = readFileSync(join(tree, p.id, 'host.json'), 'utf8');
    items.config.push({ key: `${p.id}.host.json`, path: `${p.id}/host.json` });
  }
  for (const n of nodesOf(d, p)) {
    config[`${n.id}.node.json`] = readFileSync(join(tree, n.id, 'node.json'), 'utf8');
    items.config.push({ key: `${n.id}.node.json`, path: `${n.id}/node.json` });
    keys[`${n.id}.key.json`] = readFileSync(join(tree, n.id, `${n.role}-key.json`), 'utf8');
    items.keys.push({ key: `${n.id}.key.json`, path: `${n.id}/${n.role}-key.json` });
  }
  return { config, keys, items };
}

function probe(kind: 'ready' | 'live', period: number, failures: number): Record<string, unknown> {
  return { exec: { command: ['node', '/app/deploy/healthcheck.mjs', kind] }, periodSeconds: period, timeoutSeconds: 5, failureThreshold: failures };
}

/** Every object of a preset's Kubernetes deployment, in apply order. */
export function k8sObjects(preset: TopologyPreset): Record<string, unknown>[] {
  const d = planDeployment({ topology: preset, target: 'k8s' });
  const tree = mkdtempSync(join(tmpdir(), 'hotledger-k8s-'));
  try {
    writeDeploymentConfig(d, tree);
    const objects: Record<string, unknown>[] = [
      {
        apiVersion: 'v1',
        kind: 'Service',
        metadata: { name: K8S_PEER_SERVICE, labels: { 'app.kubernetes.io/name': 'hotledger' } },
        // Peers dial each other before they are ready: a validator is ready only once it sees a quorum.
        spec: { clusterIP: 'None', publishNotReadyAddresses: true, selector: { 'app.kubernetes.io/name': 'hotledger' } },
      },
    ];
    for (const p of d.topology.processes) {
      const nodes = nodesOf(d, p);
      const files = processFiles(d, p, tree);
      const res = processResources(p.role, nodes.length);
      objects.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: `${p.id}-config`, labels: labels(p) }, data: files.config });
      objects.push({ apiVersion: 'v1', kind: 'Secret', metadata: { name: `${p.id}-keys`, labels: labels(p) }, type: 'Opaque', stringData: files.keys });
      objects.push({
        apiVersion: 'apps/v1',
        kind: 'StatefulSet',
        metadata: { name: p.id, labels: labels(p) },
        spec: {
          serviceName: K8S_PEER_SERVICE,
          replicas: 1,
          podManagementPolicy: 'Parallel',
          selector: { matchLabels: labels(p) },
          template: {
            metadata: {
              labels: labels(p),
              // One port per pod can be annotated: the first node's. k8sPrometheusText (<preset>-prometheus.yml) scrapes every node.
              annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(nodes[0]!.apiPort), 'prometheus.io/path': '/q/metrics' },
            },
            spec: {
              securityContext: { runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000 },
              terminationGracePeriodSeconds: 15,
              containers: [
                {
                  name: 'hotledger',
                  image: K8S_IMAGE,
                  args: processArgs(p),
                  env: [{ name: 'HEALTHCHECK_PORTS', value: nodes.map((n) => n.apiPort).join(',') }],
                  ports: nodes.flatMap((n) => [
                    { name: `api-${n.id}`, containerPort: n.apiPort },
                    { name: `peer-${n.id}`, containerPort: n.peerPort },
                  ]),
                  readinessProbe: probe('ready', 5, 3),
                  livenessProbe: { ...probe('live', 10, 6), initialDelaySeconds: 30 },
                  resources: {
                    requests: { cpu: String(res.cpuRequest), memory: `${res.memoryRequestMb}Mi` },
                    limits: { cpu: String(res.cpuLimit), memory: `${res.memoryLimitMb}Mi` },
                  },
                  volumeMounts: [
                    { name: 'config', mountPath: CONTAINER_CONFIG_DIR, readOnly: true },
                    { name: 'data', mountPath: CONTAINER_DATA_DIR },
                  ],
                },
              ],
              volumes: [
                {
                  name: 'config',
                  projected: {
                    sources: [{ configMap: { name: `${p.id}-config`, items: files.items.config } }, { secret: { name: `${p.id}-keys`, items: files.items.keys } }],
                  },
                },
              ],
            },
          },
          volumeClaimTemplates: [{ metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: DATA_VOLUME_SIZE } } } }],
        },
      });
    }
    const validatorPods = d.topology.processes.filter((p) => p.role === 'validator').map((p) => p.nodes.length);
    objects.push({
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: 'hotledger-validators', labels: { 'app.kubernetes.io/name': 'hotledger' } },
      spec: { maxUnavailable: validatorMaxUnavailable(validatorPods), selector: { matchLabels: { 'app.kubernetes.io/name': 'hotledger', 'hotledger.io/role': 'validator' } } },
    });
    return objects;
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
}

export function k8sCommand(preset: TopologyPreset): string {
  return `hotledger k8s --topology ${preset}`;
}

/** One multi-document YAML of every object. */
export function k8sText(preset: TopologyPreset): string {
  return (
    GENERATED_HEADER(k8sCommand(preset)) +
    k8sObjects(preset)
      .map((o) => stringify(o, { lineWidth: 0 }))
      .join('---\n')
  );
}

/**
 * prometheus.yml for a Prometheus inside the cluster's namespace: every logical node by its pod's
 * stable name (the annotations above can name only one port per pod).
 */
export function k8sPrometheusText(preset: TopologyPreset): string {
  return yamlText(prometheusConfig(planDeployment({ topology: preset, target: 'k8s' }).topology), k8sCommand(preset));
}
