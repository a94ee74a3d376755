import type { Command } from 'commander';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { HotledgerError } from '../../errors.js';
import { projectRoot } from '../../runtime/module-path.js';
import { print, run } from '../output.js';

interface ClusterCliOptions {
  validators: string;
  dir?: string;
  basePort: string;
  accounts: string;
  threads: string;
  chainId: string;
  timeoutMs: string;
  logLevel: string;
  fresh?: boolean;
}

function intOption(flag: string, raw: string, min: number, max: number): number {
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < min || Number(raw) > max) {
    throw new HotledgerError('CONFIG_INVALID', `${flag} must be an integer from ${min} to ${max} (got ${JSON.stringify(raw)})`);
  }
  return Number(raw);
}

export function registerCluster(program: Command): void {
  program
    .command('cluster')
    .description('run N HotStuff validators as separate local processes on loopback, each with its own data dir, peer port and API port; Ctrl-C stops all')
    .option('--validators <n>', 'number of validators (1-100; 4 tolerates one fault)', '4')
    .option('--dir <dir>', 'cluster directory: <dir>/v<i>/node.json, validator-key.json, data/, node.log (default: data/cluster)')
    .option('--base-port <p>', 'API port of v0; v<i> serves its API on P+i and its peer link on P+100+i (0: free ports)', '9003')
    .option('--accounts <k>', 'funded devnet accounts in genesis (PUBLIC, insecure keys)', '64')
    .option('--threads <t>', 'pipeline.threads (verify workers) of each validator', '1')
    .option('--chain-id <id>', 'chain id of the cluster', '1337')
    .option('--timeout-ms <ms>', 'consensus round timeout (heartbeat is a quarter of it, at most 250 ms)', '1000')
    .option('--log-level <level>', 'log level of the validators (their logs go to <dir>/v<i>/node.log)', 'info')
    .option('--fresh', 'delete the cluster directory first (default: resume the chain found there)')
    .addHelpText(
      'after',
      `
Ports (default --base-port 9003):
  v0 API http://127.0.0.1:9003/api/v11  peer 127.0.0.1:9103
  v1 API http://127.0.0.1:9004/api/v11  peer 127.0.0.1:9104  …

Examples:
  hotledger cluster                                  4 validators on 9003-9006 (peers 9103-9106)
  hotledger cluster --validators 7 --base-port 0     7 validators on free ports
  hotledger send --url http://127.0.0.1:9004 --key data/cluster/v0/data/keys/account-0.json --to <hex> --amount 5`,
    )
    .action((o: ClusterCliOptions) => run(() => cluster(o)));
}

async function cluster(o: ClusterCliOptions): Promise<void> {
  const validators = intOption('--validators', o.validators, 1, 100);
  const basePort = intOption('--base-port', o.basePort, 0, 65535);
  const accounts = intOption('--accounts', o.accounts, 0, 100_000);
  const threads = intOption('--threads', o.threads, 1, 64);
  const chainId = intOption('--chain-id', o.chainId, 1, 0xffffffff);
  const timeoutMs = intOption('--timeout-ms', o.timeoutMs, 50, 600_000);
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
  if (!levels.includes(o.logLevel)) throw new HotledgerError('CONFIG_INVALID', `--log-level must be one of ${levels.join(', ')} (got ${JSON.stringify(o.logLevel)})`);
  const dir = o.dir ? resolve(o.dir) : join(projectRoot(), 'data', 'cluster');
  const { planTopology, writeTopology, ClusterSupervisor, waitClusterReady } = await import('../../cluster/index.js');
  const topology = await planTopology({ validators, dir, basePort, accounts, threads, chainId, timeoutMs });
  if (o.fresh) rmSync(dir, { recursive: true, force: true });
  writeTopology(topology, { logLevel: o.logLevel });
  const sup = new ClusterSupervisor(topology);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      process.stderr.write(`${signal} again: killing the validators without a clean shutdown\n`);
      sup.killAllNow();
      process.exit(1);
    }
    stopping = true;
    process.stderr.write(`${signal}: stopping ${validators} validators (SIGTERM, SIGKILL after 10 s)\n`);
    void sup.stop('SIGTERM').then((reports) => {
      const unclean = reports.filter((r) => r.code !== 0);
      for (const r of unclean) process.stderr.write(`${r.id} ended with ${r.signal ?? `code ${r.code}`}\n`);
      process.exit(unclean.length > 0 ? 1 : 0);
    });
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));

  sup.on('exit', (r) => {
    if (r.expected || stopping) return;
    process.stderr.write(
      `\n${r.id} exited unexpectedly (${r.signal ?? `code ${r.code}`}); its log: ${join(topology.nodes[r.index]!.home, 'node.log')}; stderr ends with:\n${r.stderrTail.slice(-1500)}\n`,
    );
    if (Array.from({ length: sup.size }, (_, i) => sup.isRunning(i)).every((x) => !x)) {
      process.stderr.write('every validator has exited\n');
      process.exit(1);
    }
  });

  process.stderr.write(`starting ${validators} validators in ${dir} ...\n`);
  await sup.start();
  print(`hotledger cluster: ${validators} validators, chain ${chainId}, ${threads} thread(s) each, tolerates ${Math.floor((validators - 1) / 3)} fault(s)`);
  for (const n of topology.nodes) {
    print(`${n.id.padEnd(4)} API ${sup.url(n.index)}/api/v11  peer ${n.host}:${n.peerPort}  pid ${sup.pid(n.index)}  data ${n.dataDir}  log ${join(n.home, 'node.log')}`);
  }
  if (accounts > 0) {
    print(`devnet ${accounts} funded accounts; key files (PUBLIC, insecure) in ${topology.nodes[0]!.devnetKeyDir} (same accounts in every validator's data/keys)`);
  }
  try {
    await waitClusterReady(sup, 30_000);
    print('ready     every validator is connected to a quorum; Ctrl-C stops all');
  } catch (e) {
    process.stderr.write(`warning: ${(e as Error).message}\n`);
  }
}
