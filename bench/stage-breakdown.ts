/**
 * Where finality latency goes: the `hotledger_stage_seconds` histogram of every validator, read
 * from /q/metrics before and after a phase, as mean milliseconds per stage over that phase.
 */
export type StageTotals = Map<string, { sum: number; count: number }>;

const LINE = /^hotledger_stage_seconds_(sum|count)\{stage="([a-z_]+)"\} ([0-9.eE+-]+)$/;

export function parseStageTotals(metricsText: string): StageTotals {
  const out: StageTotals = new Map();
  for (const line of metricsText.split('\n')) {
    const m = LINE.exec(line);
    if (!m) continue;
    const t = out.get(m[2]!) ?? { sum: 0, count: 0 };
    if (m[1] === 'sum') t.sum = Number(m[3]);
    else t.count = Number(m[3]);
    out.set(m[2]!, t);
  }
  return out;
}

export async function scrapeStages(urls: string[]): Promise<StageTotals[]> {
  return Promise.all(urls.map(async (u) => parseStageTotals(await (await fetch(`${u}/q/metrics`)).text())));
}

/** Mean ms per stage between two scrapes, pooled over validators; stages in pipeline order. */
export function stageMeansMs(before: StageTotals[], after: StageTotals[]): Record<string, { meanMs: number; samples: number }> {
  const order = ['mempool', 'verify', 'propose', 'commit', 'order', 'apply', 'safety_fsync'];
  const pooled = new Map<string, { sum: number; count: number }>();
  after.forEach((a, i) => {
    for (const [stage, t] of a) {
      const b = before[i]?.get(stage) ?? { sum: 0, count: 0 };
      const p = pooled.get(stage) ?? { sum: 0, count: 0 };
      p.sum += t.sum - b.sum;
      p.count += t.count - b.count;
      pooled.set(stage, p);
    }
  });
  const out: Record<string, { meanMs: number; samples: number }> = {};
  const stages = [...pooled.keys()].sort((x, y) => order.indexOf(x) + 99 * +(order.indexOf(x) < 0) - (order.indexOf(y) + 99 * +(order.indexOf(y) < 0)));
  for (const s of stages) {
    const p = pooled.get(s)!;
    if (p.count > 0) out[s] = { meanMs: Math.round((p.sum / p.count) * 10_000) / 10, samples: p.count };
  }
  return out;
}
