import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { EventEmitter } from 'node:events';
import { projectRoot } from '../runtime/module-path.js';
import { HotledgerError } from '../errors.js';
import type { ClusterProcessSpec, Topology } from './topology.js';

/** Printed by `start` and `host` for each node they serve (describeServedNode): its id, then its API. */
const NODE_LINE = /: (?:validator|business|slim) node (\S+), chain \d+\n+API\s+(http:\/\/\S+?)\/api\/v11/g;
const TAIL_BYTES = 16_000;

export interface SupervisorOptions {
  /** How long a process may take to print the API line of every node it runs. */
  startTimeoutMs?: number;
  /** SIGTERM → SIGKILL grace on stop. */
  graceMs?: number;
  /** Also append each process's stderr (its JSON log) to its logFile (node.log or host.log). */
  logFiles?: boolean;
  /** The CLI entry point; defaults to dist/src/cli/main.js of this project. */
  cli?: string;
  env?: NodeJS.ProcessEnv;
}

/** The end of one process: every node it ran ended with it. */
export interface ExitReport {
  /** Index of the process (Topology.processes); with one node per process, that node's index too. */
  index: number;
  /** Process id: the node's id for a process of one node. */
  id: string;
  /** Indices of the nodes it ran. */
  nodes: number[];
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when the supervisor asked for it (stop, kill, restart). */
  expected: boolean;
  stderrTail: string;
}

interface Slot {
  spec: ClusterProcessSpec;
  child: ChildProcess | undefined;
  stderr: string;
  expectExit: boolean;
  exited: Promise<ExitReport> | undefined;
  log: WriteStream | undefined;
  restarts: number;
}

/** The CLI of this installation (compiled). */
export function defaultCli(): string {
  const p = join(projectRoot(), 'dist', 'src', 'cli', 'main.js');
  if (!existsSync(p)) throw new HotledgerError('INTERNAL', `${p} is missing: run \`npm run build\` first`);
  return p;
}

/** Every supervisor alive in this process: children are SIGKILLed if the process exits abruptly. */
const live = new Set<ClusterSupervisor>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => {
    for (const s of live) s.killAllNow();
  });
}

/**
 * Runs each process of a topology (`hotledger start --config <node.json>` for a process of one
 * node, `hotledger host --config <host.json>` for several), waits for the API line of every node
 * it runs, keeps a tail of its stderr and reports exits ('exit' event with an ExitReport).
 * Nothing is restarted on its own. Children run in their own process group, so a terminal's
 * Ctrl-C reaches only the supervisor, which forwards SIGTERM and SIGKILLs whatever is still alive
 * after the grace period. A supervisor that dies takes its processes with it: each child holds an
 * IPC channel to it and shuts down when the channel closes (src/cli/shutdown.ts, for start and host).
 *
 * Methods take a node index (Topology.nodes) and act on the process that runs that node: killing
 * v6 of a host process of v5..v9 kills all five.
 */
export class ClusterSupervisor extends EventEmitter<{ exit: [ExitReport] }> {
  private readonly slots: Slot[];
  private readonly urls_: (string | undefined)[];
  private readonly cli: string;
  private stopping = false;

  constructor(
    readonly topology: Topology,
    private readonly o: SupervisorOptions = {},
  ) {
    super();
    this.cli = o.cli ?? defaultCli();
    this.slots = topology.processes.map((spec) => ({ spec, child: undefined, stderr: '', expectExit: false, exited: undefined, log: undefined, restarts: 0 }));
    this.urls_ = topology.nodes.map(() => undefined);
    live.add(this);
    installExitHook();
  }

  /** Logical nodes. */
  get size(): number {
    return this.topology.nodes.length;
  }

  /** OS processes. */
  get processCount(): number {
    return this.slots.length;
  }

  /** API base URL (no /api/v11) of node i; as printed by its process once it started. */
  url(i: number): string {
    const n = this.node(i);
    return this.urls_[i] ?? `http://${n.host}:${n.apiPort}`;
  }

  urls(): string[] {
    return this.topology.nodes.map((_, i) => this.url(i));
  }

  /** Pid of the process running node i. */
  pid(i: number): number | undefined {
    return this.slotOf(i).child?.pid;
  }

  /** Pid of process p (Topology.processes). */
  processPid(p: number): number | undefined {
    return this.slots[p]?.child?.pid;
  }

  isRunning(i: number): boolean {
    return running(this.slotOf(i));
  }

  stderrTail(i: number, bytes = 4000): string {
    return this.slotOf(i).stderr.slice(-bytes);
  }

  /** Starts every process at once and resolves when each printed the API line of every node it runs. */
  async start(): Promise<void> {
    try {
      await Promise.all(this.slots.map((s) => this.spawnProcess(s)));
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  /** Starts the process of node i (again) on its own configs and data directories; resolves to node i's URL. */
  async startOne(i: number): Promise<string> {
    const s = this.slotOf(i);
    if (running(s)) throw new HotledgerError('BAD_REQUEST', `${s.spec.id} is already running (pid ${s.child!.pid})`);
    this.stopping = false;
    await this.spawnProcess(s);
    return this.url(i);
  }

  private spawnProcess(s: Slot): Promise<void> {
    const child = spawn(process.execPath, [this.cli, s.spec.command, '--config', s.spec.configFile], {
      // The IPC channel is the child's lifeline: when this supervisor dies, even by SIGKILL, the
      // channel closes and the process shuts down (closeOnShutdown listens for 'disconnect').
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      detached: true,
      env: this.o.env ?? process.env,
      cwd: projectRoot(),
    });
    child.channel?.unref(); // the lifeline must not keep this process alive on its own
    s.child = child;
    for (const n of s.spec.nodes) this.urls_[n] = undefined;
    s.expectExit = false;
    s.stderr = '';
    if (this.o.logFiles !== false) {
      s.log?.end();
      s.log = createWriteStream(s.spec.logFile, { flags: 'a' });
    }
    const log = s.log;
    child.stderr!.on('data', (d: Buffer) => {
      s.stderr = (s.stderr + d.toString()).slice(-TAIL_BYTES);
      log?.write(d);
    });
    s.exited = new Promise<ExitReport>((res) => {
      child.once('exit', (code, signal) => {
        const report: ExitReport = {
          index: s.spec.index,
          id: s.spec.id,
          nodes: s.spec.nodes,
          code,
          signal,
          expected: s.expectExit || this.stopping,
          stderrTail: s.stderr.slice(-4000),
        };
        res(report);
        this.emit('exit', report);
      });
    });
    const ids = new Map(s.spec.nodes.map((n) => [this.topology.nodes[n]!.id, n]));
    const timeoutMs = this.o.startTimeoutMs ?? 60_000;
    let out = '';
    let served = 0;
    return new Promise<void>((res, rej) => {
      const t = setTimeout(() => {
        rej(
          new HotledgerError('NOT_READY', `${s.spec.id} did not serve the API of all its ${ids.size} node(s) within ${timeoutMs} ms; stderr ends with:\n${s.stderr.slice(-2000)}`),
        );
      }, timeoutMs);
      child.stdout!.on('data', (d: Buffer) => {
        if (served === ids.size) return;
        out += d.toString();
        for (const m of out.matchAll(NODE_LINE)) {
          const n = ids.get(m[1]!);
          if (n !== undefined && this.urls_[n] === undefined) {
            this.urls_[n] = m[2]!;
            served++;
          }
        }
        if (served === ids.size) {
          clearTimeout(t);
          res();
        }
      });
      child.once('error', (e) => {
        clearTimeout(t);
        rej(new HotledgerError('INTERNAL', `cannot start ${s.spec.id}: ${e.message}`));
      });
      void s.exited!.then((r) => {
        clearTimeout(t);
        if (served < ids.size)
          rej(new HotledgerError('NOT_READY', `${s.spec.id} exited (${r.signal ?? `code ${r.code}`}) before serving its API; stderr ends with:\n${r.stderrTail.slice(-2000)}`));
      });
    });
  }

  /** Sends a signal to the process of node i (SIGKILL for a crash); resolves when it has exited. */
  async kill(i: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<ExitReport | undefined> {
    const s = this.slotOf(i);
    if (!running(s)) return undefined;
    s.expectExit = true;
    s.child!.kill(signal);
    return s.exited!;
  }

  /** Stops the process of node i (SIGTERM, SIGKILL after the grace period) and starts it on the same data dirs. */
  async restart(i: number): Promise<string> {
    const s = this.slotOf(i);
    if (running(s)) await this.stopOne(i);
    s.restarts++;
    return this.startOne(i);
  }

  /** Resolves when the process of node i exits (at once if it is not running). */
  exited(i: number): Promise<ExitReport | undefined> {
    const s = this.slotOf(i);
    return running(s) ? s.exited! : Promise.resolve(undefined);
  }

  async stopOne(i: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<ExitReport | undefined> {
    return this.stopSlot(this.slotOf(i), signal);
  }

  private async stopSlot(s: Slot, signal: NodeJS.Signals): Promise<ExitReport | undefined> {
    if (!running(s)) return undefined;
    s.expectExit = true;
    const child = s.child!;
    child.kill(signal);
    const grace = this.o.graceMs ?? 10_000;
    const t = setTimeout(() => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }, grace);
    const r = await s.exited!;
    clearTimeout(t);
    return r;
  }

  /** Forwards `signal` to every running process, SIGKILLs those alive after the grace period. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<ExitReport[]> {
    this.stopping = true;
    const reports = await Promise.all(this.slots.map((s) => this.stopSlot(s, signal)));
    for (const s of this.slots) s.log?.end();
    live.delete(this);
    return reports.filter((r): r is ExitReport => r !== undefined);
  }

  /** Synchronous last resort (process 'exit'): SIGKILL every child still running. */
  killAllNow(): void {
    for (const s of this.slots) {
      const c = s.child;
      if (c && c.exitCode === null && c.signalCode === null) {
        try {
          c.kill('SIGKILL');
        } catch {
          // already gone
        }
      }
    }
  }

  private node(i: number) {
    const n = this.topology.nodes[i];
    if (!n) throw new HotledgerError('BAD_REQUEST', `no node ${i} (the cluster has ${this.topology.nodes.length})`);
    return n;
  }

  private slotOf(i: number): Slot {
    const id = this.node(i).process;
    return this.slots.find((s) => s.spec.id === id)!;
  }
}

function running(s: Slot): boolean {
  const c = s.child;
  return c !== undefined && c.exitCode === null && c.signalCode === null;
}

/** Polls GET /q/health/ready of every node whose process runs until all answer 200 (peers connected). */
export async function waitClusterReady(sup: ClusterSupervisor, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  const nodes = sup.topology.nodes;
  const pending = new Set(nodes.map((n) => n.index).filter((i) => sup.isRunning(i)));
  let last = '';
  while (pending.size > 0) {
    await Promise.all(
      [...pending].map(async (i) => {
        try {
          const r = await fetch(`${sup.url(i)}/q/health/ready`, { signal: AbortSignal.timeout(2_000) });
          if (r.ok) pending.delete(i);
          else last = `${nodes[i]!.id}: ${await r.text()}`;
        } catch (e) {
          last = `${nodes[i]!.id}: ${(e as Error).message}`;
        }
      }),
    );
    if (pending.size === 0) return;
    if (Date.now() > until)
      throw new HotledgerError('NOT_READY', `nodes ${[...pending].map((i) => nodes[i]!.id).join(', ')} not ready within ${timeoutMs} ms (${last.slice(0, 300)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
