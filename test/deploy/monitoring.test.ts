import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { TOPOLOGY_PRESET_NAMES } from '../../src/cluster/topology.js';
import { composePaths } from '../../src/deploy/compose.js';
import { planDeployment } from '../../src/deploy/deployment.js';
import { DASHBOARD_PANELS, grafanaDashboard } from '../../src/deploy/grafana.js';
import { RULES_FILE } from '../../src/deploy/prometheus.js';
import { projectRoot } from '../../src/runtime/module-path.js';

const root = projectRoot();
const tmp = mkdtempSync(join(tmpdir(), 'hotledger-prom-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const promtool = spawnSync('promtool', ['--version'], { timeout: 10_000 }).status === 0;

interface ScrapeConfig {
  job_name: string;
  metrics_path: string;
  static_configs: { targets: string[]; labels: Record<string, string> }[];
}

describe.each(TOPOLOGY_PRESET_NAMES)('prometheus.yml of %s', (preset) => {
  const file = join(root, composePaths(preset).prometheusConfig);
  const cfg = parse(readFileSync(file, 'utf8')) as { scrape_configs: ScrapeConfig[]; rule_files: string[] };

  it("scrapes exactly the topology's logical nodes, each on its API port, labelled with role and process", () => {
    const t = planDeployment({ topology: preset, target: 'compose' }).topology;
    const job = cfg.scrape_configs.find((j) => j.job_name === 'hotledger')!;
    expect(job.metrics_path).toBe('/q/metrics');
    const targets = job.static_configs.map((s) => ({ target: s.targets.join(), ...s.labels }));
    expect(targets).toEqual(
      t.nodes.map((n) => ({
        target: `${n.process}:${n.apiPort}`,
        node: n.id,
        role: n.role,
        process: n.process,
        process_nodes: String(t.processes.find((p) => p.id === n.process)!.nodes.length),
      })),
    );
    expect(new Set(targets.map((x) => x.target)).size).toBe(t.nodes.length);
    expect(cfg.rule_files).toEqual([RULES_FILE]);
  });

  it.skipIf(!promtool)('passes promtool check config (with its rules beside it)', () => {
    const dir = mkdtempSync(join(tmp, preset));
    copyFileSync(file, join(dir, 'prometheus.yml'));
    copyFileSync(join(root, composePaths(preset).rules), join(dir, RULES_FILE));
    execFileSync('promtool', ['check', 'config', join(dir, 'prometheus.yml')], { timeout: 30_000 });
  });
});

describe('rules and dashboard', () => {
  it.skipIf(!promtool)('promtool check rules passes, and fails on a broken expression', () => {
    execFileSync('promtool', ['check', 'rules', join(root, 'deploy/prometheus', RULES_FILE)], { timeout: 30_000 });
    const bad = join(tmp, 'bad-rules.yml');
    writeFileSync(bad, 'groups:\n  - name: x\n    rules:\n      - record: a:b\n        expr: sum(rate(x[1m])\n');
    expect(spawnSync('promtool', ['check', 'rules', bad], { timeout: 30_000 }).status).not.toBe(0);
  });

  it('the committed dashboard is the generated one and its panels carry every expression', () => {
    const committed = JSON.parse(readFileSync(join(root, composePaths('option-b').grafanaDashboard), 'utf8'));
    expect(committed).toEqual(grafanaDashboard());
    const exprs = committed.panels.flatMap((p: { targets: { expr: string }[] }) => p.targets.map((t) => t.expr));
    expect(exprs).toEqual(DASHBOARD_PANELS.flatMap((p) => p.targets.map((t) => t.expr)));
    const titles = committed.panels.map((p: { title: string }) => p.title).join(' | ');
    for (const word of ['TPS', 'Finality', 'stage', 'View changes', 'Mempool', 'by role', 'Memory']) expect(titles).toContain(word);
  });
});
