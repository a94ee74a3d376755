import { describe, expect, it } from 'vitest';
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1';
import { StatefulSet } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { TOPOLOGY_PRESET_NAMES, TOPOLOGY_PRESETS } from '../../src/cluster/topology.js';
import { faultTolerance } from '../../src/consensus/types.js';
import { parse } from 'yaml';
import { k8sObjects, k8sPrometheusText, validatorMaxUnavailable } from '../../src/deploy/k8s.js';

const MODELS: Record<string, new (o: never) => { validate(): void }> = {
  Service,
  ConfigMap,
  Secret,
  StatefulSet,
  PodDisruptionBudget,
} as never;

describe('validatorMaxUnavailable', () => {
  it('never lets voluntary disruption take the validators below a quorum', () => {
    // 20 in 4 pods of 5: quorum 14; one pod down leaves 15, two leave 10.
    expect(validatorMaxUnavailable([5, 5, 5, 5])).toBe(1);
    // 30 in 5 pods of 6: quorum 21; one down leaves 24, two leave 18.
    expect(validatorMaxUnavailable([6, 6, 6, 6, 6])).toBe(1);
    // 4 single-node pods: quorum 3, one may go.
    expect(validatorMaxUnavailable([1, 1, 1, 1])).toBe(1);
    // 7 single-node pods: quorum 5, two may go.
    expect(validatorMaxUnavailable([1, 1, 1, 1, 1, 1, 1])).toBe(2);
    // 4 validators in one pod: no voluntary disruption at all.
    expect(validatorMaxUnavailable([4])).toBe(0);
    // Unequal pods: the largest are assumed to go first.
    expect(validatorMaxUnavailable([7, 3, 3, 3])).toBe(0);
    for (const sizes of [
      [5, 5, 5, 5],
      [6, 6, 6, 6, 6],
      [3, 2, 2, 2, 1],
      [1, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    ]) {
      const n = sizes.reduce((a, b) => a + b, 0);
      const k = validatorMaxUnavailable(sizes);
      const worst = [...sizes].sort((a, b) => b - a);
      const left = (m: number) => n - worst.slice(0, m).reduce((a, b) => a + b, 0);
      expect(left(k)).toBeGreaterThanOrEqual(faultTolerance(n).quorum);
      expect(left(k + 1)).toBeLessThan(faultTolerance(n).quorum);
    }
  });
});

describe.each(TOPOLOGY_PRESET_NAMES)('Kubernetes objects of %s', (preset) => {
  const objects = k8sObjects(preset) as { kind: string; metadata: { name: string }; spec?: Record<string, unknown> }[];

  it('every object validates against the Kubernetes schema', () => {
    for (const o of objects) {
      const Model = MODELS[o.kind];
      expect(Model, o.kind).toBeDefined();
      expect(() => new Model!(o as never).validate(), `${o.kind}/${o.metadata.name}`).not.toThrow();
    }
    // The validation is not vacuous.
    const sts = objects.find((o) => o.kind === 'StatefulSet')!;
    expect(() => new StatefulSet({ ...sts, spec: { ...sts.spec, replicas: 'one' } } as never).validate()).toThrow();
  });

  it('one StatefulSet per process, probes on /q/health, a data claim, scrape annotations, and the quorum PDB', () => {
    const g = TOPOLOGY_PRESETS[preset];
    const sets = objects.filter((o) => o.kind === 'StatefulSet') as unknown as InstanceType<typeof StatefulSet>[];
    expect(sets.length).toBe(g.validator.length + g.business.length + g.slim.length);
    for (const s of sets) {
      expect(s.spec!.serviceName).toBe('hotledger-peers');
      expect(s.spec!.volumeClaimTemplates![0]!.metadata!.name).toBe('data');
      const c = s.spec!.template.spec!.containers[0]!;
      expect(c.readinessProbe!.exec!.command).toContain('ready');
      expect(c.livenessProbe!.exec!.command).toContain('live');
      expect(s.spec!.template.metadata!.annotations!['prometheus.io/scrape']).toBe('true');
      expect(c.resources!.requests!.memory).toMatch(/Mi$/);
    }
    const pdb = objects.find((o) => o.kind === 'PodDisruptionBudget') as unknown as InstanceType<typeof PodDisruptionBudget>;
    expect(pdb.spec!.maxUnavailable).toBe(validatorMaxUnavailable(g.validator));
    expect(pdb.spec!.selector!.matchLabels!['hotledger.io/role']).toBe('validator');
    const peers = objects.find((o) => o.kind === 'Service')!;
    expect(peers.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true });
  });

  it("its prometheus.yml scrapes every logical node at its pod's stable name", () => {
    const cfg = parse(k8sPrometheusText(preset)) as { scrape_configs: { static_configs: { targets: string[] }[] }[] };
    const targets = cfg.scrape_configs[0]!.static_configs.flatMap((s) => s.targets);
    const g = TOPOLOGY_PRESETS[preset];
    expect(targets.length).toBe([...g.validator, ...g.business, ...g.slim].reduce((a, b) => a + b, 0));
    expect(targets[0]).toBe('pv0-0.hotledger-peers:9003');
    expect(new Set(targets).size).toBe(targets.length);
  });
});
