import { intOption } from '../options.js';
import type { Command } from 'commander';
import { rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { HotledgerError } from '../../errors.js';
import { projectRoot } from '../../runtime/module-path.js';
import { print, run } from '../output.js';
import type { TopologyPreset } from '../../cluster/topology.js';

interface ClusterCliOptions {
  topology?: string;
  validators?: string;
  business?: string;
  slim?: string;
  perProcess?: string;
  dir?: string;
  basePort: string;
  accounts: string;
  threads: string;
  chainId: string;
  timeoutMs: string;
  logLevel: string;
  fresh?: boolean;
  viewPort?: string;
}

export function registerCluster(program: Command): void {
  program
    .command('cluster')
    .description('run a local cluster on loopback: validators, business and slim nodes, one process per node or several nodes per `hotledger host` process; Ctrl-C stops all')
    .option('--topology <name>', 'a documented topology: option-b (51 nodes, 14 processes) or option-c (65 nodes, 15 processes); replaces the four flags below')
    .option('--validators <n>', 'validators (1-100; 4 tolerates one fault; default 4)')
    .option('--business <n>', 'business nodes (0-100, default 0)')
    .option('--slim <n>', 'slim nodes (0-100, default 0)')
    .option('--per-process <p>', 'nodes of one role per process (1-64, default 1 = one `hotledger start` each); the last process of a role takes the remainder')
    .option('--dir <dir>', 'cluster directory: <dir>/<node>/node.json, <role>-key.json, data/; <dir>/<process>/host.json (default: data/cluster)')
    .option('--base-port <p>', 'API port of v0; ports of every role derive from it (see below; 0: free ports)', '9003')
    .option('--accounts <k>', 'funded devnet accounts in genesis (PUBLIC, insecure keys)', '64')
    .option('--threads <t>', 'pipeline.threads of each node, and the shared verify pool of each host process', '1')
    .option('--chain-id <id>', 'chain id of the cluster', '1337')
    .option('--timeout-ms <ms>', 'consensus round timeout (heartbeat is a quarter of it, at most 250 ms)', '1000')
    .option('--log-level <level>', 'log level of the nodes (logs go to <dir>/<node>/node.log or <dir>/<process>/host.log)', 'info')
    .option('--fresh', 'delete the cluster directory first (default: resume the chain found there)')
    .option('--view-port <p>', 'port of the cluster view, one page for every node (default: base port + 600, 9603; 0: a free port)')
    .addHelpText(
      'after',
      `
Ports (--base-port P, default 9003; node j of its role):
  validator vj  API P+j      peer P+100+j   (v0: 9003 / 9103)
  business  bj  API P+200+j  peer P+300+j   (b0: 9203 / 9303)
  slim      sj  API P+400+j  peer P+500+j   (s0: 9403 / 9503)

Examples:
  hotledger cluster                                  4 validators on 9003-9006 (peers 9103-9106), 4 processes
  hotledger cluster --validators 4 --per-process 2   the same 4 validators in 2 host processes
  hotledger cluster --topology option-b --base-port 0
  hotledger send --url http://127.0.0.1:9004 --key data/cluster/v0/data/keys/account-0.json --to <hex> --amount 5`,
    )
    .action((o: ClusterCliOptions) => run(() => cluster(o)));
}

async function cluster(o: ClusterCliOptions): Promise<void> {
  if (o.topology !== undefined) {
    const clash = (['validators', 'business', 'slim', 'perProcess'] as const).filter((k) => o[k] !== undefined);
    if (clash.length > 0) {
      throw new HotledgerError(
        'CONFIG_INVALID',
        `--topology ${o.topology} fixes every role's count and grouping: drop ${clash.map((k) => `--${k.replace('P', '-p')}`).join(', ')}`,
      );
    }
  }
  const validators = intOption('--validators', o.validators ?? '4', 1, 100, 'CONFIG_INVALID');
  const business = intOption('--business', o.business ?? '0', 0, 100, 'CONFIG_INVALID');
  const slim = intOption('--slim', o.slim ?? '0', 0, 100, 'CONFIG_INVALID');
  const perProcess = intOption('--per-process', o.perProcess ?? '1', 1, 64, 'CONFIG_INVALID');
  const basePort = intOption('--base-port', o.basePort, 0, 65535, 'CONFIG_INVALID');
  const accounts = intOption('--accounts', o.accounts, 0, 100_000, 'CONFIG_INVALID');
  const threads = intOption('--threads', o.threads, 1, 64, 'CONFIG_INVALID');
  const chainId = intOption('--chain-id', o.chainId, 1, 0xffffffff, 'CONFIG_INVALID');
  const timeoutMs = intOption('--timeout-ms', o.timeoutMs, 50, 600_000, 'CONFIG_INVALID');
  const viewPort = intOption('--view-port', o.viewPort ?? String(basePort === 0 ? 0 : basePort + 600), 0, 65535, 'CONFIG_INVALID');
  const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
  if (!levels.includes(o.logLevel)) throw new HotledgerError('CONFIG_INVALID', `--log-level must be one of ${levels.join(', ')} (got ${JSON.stringify(o.logLevel)})`);
  const dir = o.dir ? resolve(o.dir) : join(projectRoot(), 'data', 'cluster');
  const { planTopology, writeTopology, processCommand, ClusterSupervisor, waitClusterReady } = await import('../../cluster/index.js');
  // planTopology refuses an unknown --topology by name.
  const topology = await planTopology({
    topology: o.topology as TopologyPreset | undefined,
    validators,
    business,
    slim,
    perProcess,
    dir,
    basePort,
    accounts,
    threads,
    chainId,
    timeoutMs,
  });
  if (o.fresh) rmSync(dir, { recursive: true, force: true });
  writeTopology(topology, { logLevel: o.logLevel });
  const sup = new ClusterSupervisor(topology);
  const nodes = topology.nodes.length;
  const procs = topology.processes.length;
  const count = (r: string) => topology.nodes.filter((n) => n.role === r).length;

  let stopping = false;
  let view: import('../../dashboard/cluster-view.js').ClusterView | undefined;
  const stop = (signal: string) => {
    if (stopping) {
      process.stderr.write(`${signal} again: killing every process without a clean shutdown\n`);
      sup.killAllNow();
      process.exit(1);
    }
    stopping = true;
    process.stderr.write(`${signal}: stopping ${procs} processes (SIGTERM, SIGKILL after 10 s)\n`);
    void view?.close();
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
    const ids = r.nodes.map((i) => topology.nodes[i]!.id).join(', ');
    process.stderr.write(
      `\n${r.id} (${ids}) exited unexpectedly (${r.signal ?? `code ${r.code}`}); nothing is restarted; its log: ${topology.processes[r.index]!.logFile}; stderr ends with:\n${r.stderrTail.slice(-1500)}\n`,
    );
    if (topology.nodes.every((n) => !sup.isRunning(n.index))) {
      process.stderr.write('every process has exited\n');
      process.exit(1);
    }
  });

  const startedAt = Date.now();
  process.stderr.write(`starting ${nodes} nodes in ${procs} processes in ${dir} ...\n`);
  await sup.start();
  const f = Math.floor((count('validator') - 1) / 3);
  print(
    `hotledger cluster${topology.preset ? ` ${topology.preset}` : ''}: ${count('validator')} validators, ${count('business')} business, ${count('slim')} slim in ${procs} processes, chain ${chainId}, tolerates ${f} validator fault(s)`,
  );
  print(`${'node'.padEnd(5)} ${'role'.padEnd(9)} ${'process'.padEnd(7)} ${'API'.padEnd(34)} peer`);
  for (const n of topology.nodes) {
    print(`${n.id.padEnd(5)} ${n.role.padEnd(9)} ${n.process.padEnd(7)} ${`${sup.url(n.index)}/api/v11`.padEnd(34)} ${n.host}:${n.peerPort}`);
  }
  for (const p of topology.processes) {
    print(`process ${p.id.padEnd(5)} pid ${sup.processPid(p.index)} nodes ${p.nodes.map((i) => topology.nodes[i]!.id).join(',')}  ${processCommand(p)}  log ${p.logFile}`);
  }
  const { startClusterView } = await import('../../dashboard/cluster-view.js');
  try {
    view = await startClusterView(
      topology.nodes.map((n) => ({ id: n.id, role: n.role, process: n.process, url: sup.url(n.index) })),
      { port: viewPort },
    );
    print(`view      ${view.url}/  (every node: health, height, lag; each node's own dashboard at its API address)`);
  } catch (e) {
    // The nodes run without it: a taken port costs the page, not the cluster.
    process.stderr.write(`warning: ${(e as Error).message}; use --view-port\n`);
  }
  if (accounts > 0) {
    print(`devnet ${accounts} funded accounts; key files (PUBLIC, insecure) in ${topology.nodes[0]!.devnetKeyDir} (same accounts on every node)`);
  }
  try {
    await waitClusterReady(sup, 60_000);
    print(`ready     every node answers /q/health/ready (${((Date.now() - startedAt) / 1000).toFixed(1)} s after start); Ctrl-C stops all`);
  } catch (e) {
    process.stderr.write(`warning: ${(e as Error).message}\n`);
  }
}
