import type { Command } from 'commander';
import { pino } from 'pino';
import { print, run } from '../output.js';
import { closeOnShutdown } from '../shutdown.js';

export function registerHost(program: Command): void {
  program
    .command('host')
    .description(
      'run several logical nodes (each its own identity, data dir, API and peer port) in this one process, on one shared verify pool; Ctrl-C (SIGINT) or SIGTERM stops all',
    )
    .requiredOption('--config <file>', 'host.json: { "verify": { "threads", "chunkSize", "cacheBatches" }, "profile"?, "nodes": [node config file or object, ...] }')
    .addHelpText(
      'after',
      `
Example host.json (paths relative to it; each file is a node config as for hotledger start --config):
  { "verify": { "threads": 2 }, "nodes": ["v0/node.json", "v1/node.json", "v2/node.json", "v3/node.json"] }`,
    )
    .action((o: { config: string }) => run(() => host(o.config)));
}

async function host(file: string): Promise<void> {
  const { loadHostConfig } = await import('../../host/host-config.js');
  const plan = loadHostConfig(file);
  // Loaded here, not at the top: the other commands start fast without LMDB, workers and uWS.
  const [{ startHost }, { describeServedNode }, { loadUws }] = await Promise.all([import('../../host/host.js'), import('../../host/serve-node.js'), import('../../api/uws.js')]);
  loadUws(); // refuse the pure-JS uWS fallback before opening any storage
  const level = plan.nodes.map((c) => c.log.level).reduce((a, b) => (pino.levels.values[a]! <= pino.levels.values[b]! ? a : b));
  const logger = pino({ level, base: undefined }, pino.destination(2));
  const running = await startHost(plan, logger);
  print(`hotledger host: ${running.nodes.length} logical nodes in pid ${process.pid}, one verify pool of ${running.verifier.threads} thread(s)`);
  for (const n of running.nodes) for (const line of describeServedNode(n)) print(line);
  print('ready     all nodes started; Ctrl-C stops all');
  closeOnShutdown(`${running.nodes.length} node${running.nodes.length === 1 ? '' : 's'}`, () => running.close());
}
