import { readFileSync } from 'node:fs';

/** Peak resident memory of processes, from /proc/<pid>/status (Linux). */
export function readStatusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Samples VmRSS of every validator every `everyMs` and reads VmHWM (the kernel's own high-water
 * mark, which also catches spikes between samples) on each sample; `window()` gives the peak of
 * each validator since the last `reset()`. A restarted process starts a new high-water mark.
 */
export class RssSampler {
  private timer: NodeJS.Timeout | undefined;
  private peakKb: number[];
  /** VmHWM seen at the last reset, per pid: a high-water mark that did not move is an older peak. */
  private hwmAtReset = new Map<number, number>();

  constructor(
    private readonly pids: () => (number | undefined)[],
    private readonly everyMs = 200,
  ) {
    this.peakKb = pids().map(() => 0);
  }

  start(): void {
    this.reset();
    this.timer = setInterval(() => this.sample(), this.everyMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  reset(): void {
    this.peakKb = this.pids().map(() => 0);
    this.hwmAtReset.clear();
    for (const pid of this.pids()) if (pid !== undefined) this.hwmAtReset.set(pid, readStatusKb(pid, 'VmHWM') ?? 0);
    this.sample();
  }

  /** Peak MB of each validator in the current window (0: not running). */
  window(): number[] {
    this.sample();
    return this.peakKb.map((kb) => Math.round(kb / 1024));
  }

  private sample(): void {
    this.pids().forEach((pid, i) => {
      if (pid === undefined) return;
      const rss = readStatusKb(pid, 'VmRSS') ?? 0;
      const hwm = readStatusKb(pid, 'VmHWM') ?? 0;
      const before = this.hwmAtReset.get(pid);
      // A new process (not seen at reset) or a high-water mark that rose: the peak is in this window.
      const peak = before === undefined || hwm > before ? Math.max(rss, hwm) : rss;
      this.peakKb[i] = Math.max(this.peakKb[i] ?? 0, peak);
    });
  }
}
