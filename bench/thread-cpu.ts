import { readdirSync, readFileSync } from 'node:fs';

/** CPU seconds (user + system) of every thread of this process, by thread id (Linux /proc; empty elsewhere). */
function threadCpuSeconds(): Map<number, number> {
  const out = new Map<number, number>();
  let tids: string[];
  try {
    tids = readdirSync('/proc/self/task');
  } catch {
    return out;
  }
  const tick = 100; // USER_HZ on Linux
  for (const tid of tids) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      out.set(Number(tid), (Number(f[11]) + Number(f[12])) / tick);
    } catch {
      // the thread ended between the listing and the read
    }
  }
  return out;
}

/** CPU µs per transaction by thread role over a run; `verify` is the `verifyThreads` busiest threads other than main. */
export interface ThreadCpu {
  verify: number;
  main: number;
  /** Ledger thread, shard workers, V8 platform (GC, JIT) and libuv pool threads. */
  others: number;
  /** The busiest of `others`, largest first. */
  othersTop: number[];
}

/**
 * Samples every thread's CPU time while a run goes on (a thread that exits keeps its last sample),
 * so a run reports where its CPU went per transaction: on two cores every microsecond that is not
 * verification comes out of verification. 10 ms resolution per thread (clock ticks).
 */
export class ThreadCpuMeter {
  private readonly start = threadCpuSeconds();
  private readonly last = new Map<number, number>();
  private readonly timer: NodeJS.Timeout;

  constructor(periodMs = 200) {
    this.timer = setInterval(() => this.sample(), periodMs);
    this.timer.unref();
  }

  private sample(): void {
    for (const [tid, s] of threadCpuSeconds()) this.last.set(tid, s);
  }

  stop(txs: number, verifyThreads: number): ThreadCpu | undefined {
    this.sample();
    clearInterval(this.timer);
    if (this.last.size === 0 || txs === 0) return undefined;
    const us = (s: number) => Math.round(((s * 1e6) / txs) * 10) / 10;
    const used = [...this.last].map(([tid, s]) => ({ tid, s: s - (this.start.get(tid) ?? 0) })).filter((t) => t.s > 0);
    used.sort((a, b) => b.s - a.s);
    const main = used.find((t) => t.tid === process.pid)?.s ?? 0;
    const rest = used.filter((t) => t.tid !== process.pid);
    const verify = rest.slice(0, verifyThreads);
    const others = rest.slice(verifyThreads);
    const sum = (xs: { s: number }[]) => xs.reduce((a, t) => a + t.s, 0);
    return { verify: us(sum(verify)), main: us(main), others: us(sum(others)), othersTop: others.slice(0, 6).map((t) => us(t.s)) };
  }
}
