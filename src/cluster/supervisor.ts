import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { EventEmitter } from 'node:events';
import { projectRoot } from '../runtime/module-path.js';
import { HotledgerError } from '../errors.js';
import type { ClusterNodeSpec, Topology } from './topology.js';

const API_LINE = /API\s+(http:\/\/\S+?)\/api\/v11/;
const TAIL_BYTES = 16_000;

export interface SupervisorOptions {
  /** How long a validator may take to print its API line. */
  startTimeoutMs?: number;
  /** SIGTERM → SIGKILL grace on stop. */
  graceMs?: number;
  /** Also append each validator's stderr (its JSON log) to <home>/node.log. */
  logFiles?: boolean;
  /** The CLI entry point; defaults to dist/src/cli/main.js of this project. */
  cli?: string;
  env?: NodeJS.ProcessEnv;
}

export interface ExitReport {
  index: number;
  id: string;
  code: number | null;
  signal: NodeJS.Signals | null;
  /** True when the supervisor asked for it (stop, kill, restart). */
  expected: boolean;
  stderrTail: string;
}

interface Slot {
  spec: ClusterNodeSpec;
  child: ChildProcess | undefined;
  url: string | undefined;
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
 * Runs each validator of a topology as its own `hotledger start --config <home>/node.json` process,
 * waits for its API line, keeps a tail of its stderr and reports exits ('exit' event with an
 * ExitReport). Children run in their own process group, so a terminal's Ctrl-C reaches only the
 * supervisor, which forwards SIGTERM and SIGKILLs whatever is still alive after the grace period.
 * A supervisor that dies takes its validators with it: each child holds an IPC channel to it and
 * shuts down when the channel closes.
 */
export class ClusterSupervisor extends EventEmitter<{ exit: [ExitReport] }> {
  private readonly slots: Slot[];
  private readonly cli: string;
  private stopping = false;

  constructor(
    readonly topology: Topology,
    private readonly o: SupervisorOptions = {},
  ) {
    super();
    this.cli = o.cli ?? defaultCli();
    this.slots = topology.nodes.map((spec) => ({ spec, child: undefined, url: undefined, stderr: '', expectExit: false, exited: undefined, log: undefined, restarts: 0 }));
    live.add(this);
    installExitHook();
  }

  get size(): number {
    return this.slots.length;
  }

  /** API base URL (no /api/v11) of validator i; known once it printed its API line. */
  url(i: number): string {
    const s = this.slot(i);
    return s.url ?? `http://${s.spec.host}:${s.spec.apiPort}`;
  }

  urls(): string[] {
    return this.slots.map((_, i) => this.url(i));
  }

  pid(i: number): number | undefined {
    return this.slot(i).child?.pid;
  }

  isRunning(i: number): boolean {
    const c = this.slot(i).child;
    return c !== undefined && c.exitCode === null && c.signalCode === null;
  }

  stderrTail(i: number, bytes = 4000): string {
    return this.slot(i).stderr.slice(-bytes);
  }

  /** Starts every validator at once and resolves when all printed their API line. */
  async start(): Promise<void> {
    try {
      await Promise.all(this.slots.map((_, i) => this.startOne(i)));
    } catch (e) {
      await this.stop();
      throw e;
    }
  }

  /** Starts validator i (again) on its own config and data directory. */
  async startOne(i: number): Promise<string> {
    const s = this.slot(i);
    if (this.isRunning(i)) throw new HotledgerError('BAD_REQUEST', `${s.spec.id} is already running (pid ${s.child!.pid})`);
    this.stopping = false;
    const child = spawn(process.execPath, [this.cli, 'start', '--config', s.spec.configFile], {
      // The IPC channel is the child's lifeline: when this supervisor dies, even by SIGKILL, the
      // channel closes and the validator shuts down (hotledger start listens for 'disconnect').
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      detached: true,
      env: this.o.env ?? process.env,
      cwd: projectRoot(),
    });
    child.channel?.unref(); // the lifeline must not keep this process alive on its own
    s.child = child;
    s.url = undefined;
    s.expectExit = false;
    s.stderr = '';
    if (this.o.logFiles !== false) {
      s.log?.end();
      s.log = createWriteStream(join(s.spec.home, 'node.log'), { flags: 'a' });
    }
    const log = s.log;
    child.stderr!.on('data', (d: Buffer) => {
      s.stderr = (s.stderr + d.toString()).slice(-TAIL_BYTES);
      log?.write(d);
    });
    let out = '';
    s.exited = new Promise<ExitReport>((res) => {
      child.once('exit', (code, signal) => {
        const report: ExitReport = { index: i, id: s.spec.id, code, signal, expected: s.expectExit || this.stopping, stderrTail: s.stderr.slice(-4000) };
        res(report);
        this.emit('exit', report);
      });
    });
    const timeoutMs = this.o.startTimeoutMs ?? 60_000;
    return new Promise<string>((res, rej) => {
      const t = setTimeout(() => {
        rej(new HotledgerError('NOT_READY', `${s.spec.id} did not print its API line within ${timeoutMs} ms; stderr ends with:\n${s.stderr.slice(-2000)}`));
      }, timeoutMs);
      child.stdout!.on('data', (d: Buffer) => {
        if (s.url) return;
        out += d.toString();
        const m = API_LINE.exec(out);
        if (m) {
          clearTimeout(t);
          s.url = m[1]!;
          res(s.url);
        }
      });
      child.once('error', (e) => {
        clearTimeout(t);
        rej(new HotledgerError('INTERNAL', `cannot start ${s.spec.id}: ${e.message}`));
      });
      void s.exited!.then((r) => {
        clearTimeout(t);
        if (!s.url)
          rej(new HotledgerError('NOT_READY', `${s.spec.id} exited (${r.signal ?? `code ${r.code}`}) before serving its API; stderr ends with:\n${r.stderrTail.slice(-2000)}`));
      });
    });
  }

  /** Sends a signal to validator i (SIGKILL for a crash); resolves when it has exited. */
  async kill(i: number, signal: NodeJS.Signals = 'SIGKILL'): Promise<ExitReport | undefined> {
    const s = this.slot(i);
    if (!this.isRunning(i)) return undefined;
    s.expectExit = true;
    s.child!.kill(signal);
    return s.exited!;
  }

  /** Stops validator i (SIGTERM, SIGKILL after the grace period) and starts it on the same data dir. */
  async restart(i: number): Promise<string> {
    const s = this.slot(i);
    if (this.isRunning(i)) await this.stopOne(i);
    s.restarts++;
    return this.startOne(i);
  }

  /** Resolves when validator i exits (at once if it is not running). */
  exited(i: number): Promise<ExitReport | undefined> {
    const s = this.slot(i);
    return this.isRunning(i) ? s.exited! : Promise.resolve(undefined);
  }

  async stopOne(i: number, signal: NodeJS.Signals = 'SIGTERM'): Promise<ExitReport | undefined> {
    const s = this.slot(i);
    if (!this.isRunning(i)) return undefined;
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

  /** Forwards `signal` to every running validator, SIGKILLs those alive after the grace period. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<ExitReport[]> {
    this.stopping = true;
    const reports = await Promise.all(this.slots.map((_, i) => this.stopOne(i, signal)));
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

  private slot(i: number): Slot {
    const s = this.slots[i];
    if (!s) throw new HotledgerError('BAD_REQUEST', `no validator ${i} (the cluster has ${this.slots.length})`);
    return s;
  }
}

/** Polls GET /q/health/ready of every running validator until all answer 200 (peers connected). */
export async function waitClusterReady(sup: ClusterSupervisor, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  const pending = new Set(Array.from({ length: sup.size }, (_, i) => i).filter((i) => sup.isRunning(i)));
  let last = '';
  while (pending.size > 0) {
    for (const i of [...pending]) {
      try {
        const r = await fetch(`${sup.url(i)}/q/health/ready`, { signal: AbortSignal.timeout(2_000) });
        if (r.ok) pending.delete(i);
        else last = `v${i}: ${await r.text()}`;
      } catch (e) {
        last = `v${i}: ${(e as Error).message}`;
      }
    }
    if (pending.size === 0) return;
    if (Date.now() > until)
      throw new HotledgerError('NOT_READY', `validators ${[...pending].map((i) => `v${i}`).join(', ')} not ready within ${timeoutMs} ms (${last.slice(0, 300)})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
