import type { Command } from 'commander';
import { basename, dirname, resolve } from 'node:path';
import { HotledgerError } from '../../errors.js';
import { projectRoot } from '../../runtime/module-path.js';
import { TOPOLOGY_PRESET_NAMES, type TopologyPreset } from '../../cluster/topology.js';
import { print, run } from '../output.js';

export function checkPreset(raw: string): TopologyPreset {
  if (!(TOPOLOGY_PRESET_NAMES as string[]).includes(raw)) {
    throw new HotledgerError('CONFIG_INVALID', `--topology must be one of ${TOPOLOGY_PRESET_NAMES.join(', ')} (got ${JSON.stringify(raw)})`);
  }
  return raw as TopologyPreset;
}

export function registerCompose(program: Command): void {
  program
    .command('compose')
    .description('write a Docker Compose file for a topology (one service per process of `hotledger cluster`), its config tree, Prometheus and Grafana config')
    .requiredOption('--topology <name>', `a documented topology: ${TOPOLOGY_PRESET_NAMES.join(', ')}`)
    .option('--out <file>', 'compose file; the deploy/ tree it mounts is written beside it (default: the committed file at the project root)')
    .action((o: { topology: string; out?: string }) =>
      run(async () => {
        const preset = checkPreset(o.topology);
        const { COMPOSE_FILES, writeCompose } = await import('../../deploy/compose.js');
        const file = o.out ? resolve(o.out) : resolve(projectRoot(), COMPOSE_FILES[preset]);
        const written = writeCompose(preset, dirname(file), basename(file));
        print(`wrote ${written.length} files and the config tree under ${dirname(file)}: ${written.join(', ')}`);
      }),
    );
}
