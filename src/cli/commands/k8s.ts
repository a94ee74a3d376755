import type { Command } from 'commander';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { projectRoot } from '../../runtime/module-path.js';
import { print, run } from '../output.js';
import { checkPreset } from './compose.js';

export function registerK8s(program: Command): void {
  program
    .command('k8s')
    .description('write Kubernetes manifests for a topology: a StatefulSet per process, headless peer Service, PodDisruptionBudget keeping a validator quorum')
    .requiredOption('--topology <name>', 'a documented topology: option-b or option-c')
    .option('--out <dir>', 'directory of <topology>.yaml and <topology>-prometheus.yml (default: deploy/k8s at the project root)')
    .action((o: { topology: string; out?: string }) =>
      run(async () => {
        const preset = checkPreset(o.topology);
        const { k8sPrometheusText, k8sText } = await import('../../deploy/k8s.js');
        const dir = o.out ? resolve(o.out) : join(projectRoot(), 'deploy', 'k8s');
        mkdirSync(dir, { recursive: true });
        const file = join(dir, `${preset}.yaml`);
        writeFileSync(file, k8sText(preset));
        const prom = join(dir, `${preset}-prometheus.yml`);
        writeFileSync(prom, k8sPrometheusText(preset));
        print(`wrote ${file} and ${prom}; apply with: kubectl apply -n <namespace> -f ${file}`);
      }),
    );
}
