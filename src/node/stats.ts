import * as hdr from 'hdr-histogram-js';

/** Committed transactions per second over sliding 1 s, 10 s and 60 s windows (1 s buckets). */
export class TpsWindow {
  private readonly buckets = new Float64Array(61);
  private currentSec = Math.floor(Date.now() / 1000);

  add(n: number, nowMs = Date.now()): void {
    this.advance(nowMs);
    this.buckets[this.currentSec % 61]! += n;
  }

  /** Average over the last `seconds` complete seconds. */
  rate(seconds: number, nowMs = Date.now()): number {
    this.advance(nowMs);
    let sum = 0;
    for (let i = 1; i <= seconds; i++) sum += this.buckets[(this.currentSec - i + 61 * 2) % 61]!;
    return sum / seconds;
  }

  private advance(nowMs: number): void {
    const sec = Math.floor(nowMs / 1000);
    if (sec <= this.currentSec) return;
    for (let s = this.currentSec + 1; s <= Math.min(sec, this.currentSec + 61); s++) this.buckets[s % 61] = 0;
    this.currentSec = sec;
  }
}

export function newLatencyHistogram(): hdr.Histogram {
  // Microseconds, 1 µs .. 60 s, 3 significant digits (see DESIGN.md library notes).
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
}

/**
 * Submission→durable-commit latency of recent commits: two histograms rotated every `periodMs`,
 * percentiles read over both, so "recent" means the last one to two periods.
 */
export class RecentLatency {
  private current = newLatencyHistogram();
  private previous = newLatencyHistogram();
  private readonly merged = newLatencyHistogram();
  private rotatedAt = Date.now();
  private cached: { at: number; value: { p50: number; p95: number; p99: number } } | undefined;

  /** Percentiles are recomputed at most every `cacheMs`: merging histograms costs ~0.1 ms. */
  constructor(
    private readonly periodMs = 10_000,
    private readonly cacheMs = 250,
  ) {}

  recordMs(ms: number): void {
    this.rotate();
    this.current.recordValue(Math.max(1, Math.round(ms * 1000)));
  }

  percentilesMs(): { p50: number; p95: number; p99: number } {
    const now = Date.now();
    if (this.cached && now - this.cached.at < this.cacheMs) return this.cached.value;
    this.rotate();
    const h = this.merged;
    h.reset();
    h.add(this.previous);
    h.add(this.current);
    const q = (p: number) => (h.totalCount === 0 ? 0 : h.getValueAtPercentile(p) / 1000);
    const value = { p50: q(50), p95: q(95), p99: q(99) };
    this.cached = { at: now, value };
    return value;
  }

  private rotate(): void {
    const now = Date.now();
    if (now - this.rotatedAt < this.periodMs) return;
    this.previous = now - this.rotatedAt < 2 * this.periodMs ? this.current : newLatencyHistogram();
    this.current = newLatencyHistogram();
    this.rotatedAt = now;
  }
}
