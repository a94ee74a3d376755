/**
 * The fault campaign (issue 8): a real validator cluster on loopback, steady signed load from an
 * independent client, faults one after another, the ledger's promises checked after each.
 *
 *   npm run faults -- [--faults a,b,c] [--json FILE] [--list] [--keep] [--timeout-ms MS] [--rss-mb MB]
 *
 * Exits 1 if any check of any fault failed, 2 on a usage error.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { ALL_FAULTS, faultsByName } from './faults.js';
import { runCampaign } from './campaign.js';
import { formatDetails, formatTable } from './report.js';

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      faults: { type: 'string' },
      json: { type: 'string' },
      list: { type: 'boolean', default: false },
      keep: { type: 'boolean', default: false },
      'timeout-ms': { type: 'string', default: '1000' },
      'rss-mb': { type: 'string', default: '1024' },
    },
    allowPositionals: false,
  });
  if (values.list) {
    for (const f of ALL_FAULTS) process.stdout.write(`${f.name.padEnd(26)} ${f.what}\n`);
    return 0;
  }
  const timeoutMs = Number(values['timeout-ms']);
  const rssLimitMb = Number(values['rss-mb']);
  if (!Number.isInteger(timeoutMs) || timeoutMs < 200 || timeoutMs > 10_000) throw new RangeError('--timeout-ms must be an integer from 200 to 10000');
  if (!Number.isInteger(rssLimitMb) || rssLimitMb < 64) throw new RangeError('--rss-mb must be an integer of at least 64');
  const faults = values.faults
    ? faultsByName(
        values.faults
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean),
      )
    : ALL_FAULTS;
  const report = await runCampaign({ faults, timeoutMs, rssLimitMb, keep: values.keep });
  process.stdout.write(`\n${formatTable(report)}\n`);
  const details = formatDetails(report);
  if (details) process.stdout.write(`\n${details}\n`);
  if (values.json) writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
  return report.pass ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`faults: ${(e as Error).message}\n`);
    process.exit(e instanceof RangeError ? 2 : 1);
  },
);
