import type { CampaignReport } from './campaign.js';

/** The campaign's table, one row per fault (docs/reliability.md shows one). */
export function formatTable(r: CampaignReport): string {
  const head = ['fault', 'during ms', 'resumed-after ms', 'acked', 'lost', 'roots agree', 'supply ok', 'peak RSS MB', 'pass'];
  const rows = r.results.map((x) => [
    x.fault,
    x.duringMs === null ? '-' : String(x.duringMs),
    x.resumedAfterMs === null ? 'none' : `${x.resumedAfterMs} (≤ ${x.resumedBoundMs})`,
    String(x.acked),
    x.lost < 0 ? '?' : String(x.lost),
    x.rootsAgree ? 'yes' : 'NO',
    x.supplyOk ? 'yes' : 'NO',
    String(x.peakRssMb),
    x.pass ? 'PASS' : 'FAIL',
  ]);
  const lines = [head, ...rows].map((cells) => `| ${cells.join(' | ')} |`);
  lines.splice(1, 0, `| ${head.map(() => '---').join(' | ')} |`);
  const total = r.results.length > 0 ? r.results.at(-1)!.ackedTotal : 0;
  lines.push(
    '',
    `${r.validators} validators (f = ${r.f}, quorum ${r.quorum}), consensus timeout ${r.timeoutMs} ms, RSS bound ${r.rssLimitMb} MB, load ${r.load}; ` +
      `${total} acknowledged txs in all; ${r.results.filter((x) => x.pass).length}/${r.results.length} faults passed in ${(r.durationMs / 1000).toFixed(0)} s`,
  );
  return lines.join('\n');
}

/** Failures and notes under the table. */
export function formatDetails(r: CampaignReport): string {
  const out: string[] = [];
  for (const x of r.results) {
    if (x.failures.length === 0) continue;
    out.push(`${x.fault}:`);
    for (const f of x.failures) out.push(`  FAIL ${f}`);
    for (const n of x.notes) out.push(`  note ${n}`);
  }
  return out.join('\n');
}
