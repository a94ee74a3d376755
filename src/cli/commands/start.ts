import type { Command } from 'commander';
import { pino } from 'pino';
import { loadConfig } from '../../config/load.js';
import { HotledgerError } from '../../errors.js';
import { print, run } from '../output.js';
import { closeOnShutdown } from '../shutdown.js';

interface StartOptions {
  profile?: string;
  devnet?: boolean;
  port?: string;
  host?: string;
  dataDir?: string;
  config?: string;
}

export function registerStart(program: Command): void {
  program
    .command('start')
    .description('start a node and its HTTP/WebSocket API; Ctrl-C (SIGINT) or SIGTERM stops it gracefully')
    .option('--profile <name>', 'config profile from config/profiles (e.g. devnet, bench, test)')
    .option('--devnet', 'single-node devnet with funded, PUBLIC (insecure) accounts: the devnet profile')
    .option('--port <n>', 'API port (0: any free port)')
    .option('--host <host>', 'API listen address')
    .option('--data-dir <dir>', 'data directory of the node')
    .option('--config <file>', 'extra config file merged over the profile')
    .action((o: StartOptions) => run(() => start(o)));
}

async function start(o: StartOptions): Promise<void> {
  if (o.devnet && o.profile && o.profile !== 'devnet') throw new HotledgerError('CONFIG_INVALID', `--devnet and --profile ${o.profile} contradict each other`);
  const profile = o.devnet ? 'devnet' : o.profile;
  let port: number | undefined;
  if (o.port !== undefined) {
    if (!/^\d+$/.test(o.port) || Number(o.port) > 65535) throw new HotledgerError('CONFIG_INVALID', `--port must be an integer from 0 to 65535 (got ${JSON.stringify(o.port)})`);
    port = Number(o.port);
  }
  const config = loadConfig({
    profile,
    file: o.config,
    overrides: { api: { port, host: o.host }, node: { dataDir: o.dataDir } },
  });
  // Loaded here, not at the top: the other commands start fast without LMDB, workers and uWS.
  const [{ serveNode, describeServedNode }, { loadUws }] = await Promise.all([import('../../host/serve-node.js'), import('../../api/uws.js')]);
  loadUws(); // refuse the pure-JS uWS fallback before opening any storage
  const logger = pino({ level: config.log.level, base: { node: config.node.id } }, pino.destination(2));
  const served = await serveNode(config, logger);
  for (const line of describeServedNode(served)) print(line);
  closeOnShutdown('the node', () => served.close());
}
