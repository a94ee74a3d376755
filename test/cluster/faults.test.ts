import { describe, it, expect } from 'vitest';
import { runCampaign } from '../../src/faults/campaign.js';
import { faultsByName } from '../../src/faults/faults.js';
import { formatDetails, formatTable } from '../../src/faults/report.js';

/**
 * The short fault campaign (the whole one is `npm run faults`): 4 real validator processes whose
 * peer links run through the campaign's fault proxies, steady signed load from this process, and
 * a Byzantine v0 on the real PeerTransport. After each fault: no acknowledged tx lost, block hashes
 * and state roots equal at every height, supply conserved, peak RSS under the bound, commits
 * resumed within 2 x consensus.timeoutMs of the lift. Needs `npm run build` (validators run dist/).
 */
const SHORT = ['kill-follower', 'sigstop', 'partition', 'byz-length-bomb'];

describe('fault campaign, short version', () => {
  it(`${SHORT.join(', ')}: every promise holds after each`, async () => {
    const report = await runCampaign({ faults: faultsByName(SHORT), timeoutMs: 1_000, rssLimitMb: 1_024, log: () => undefined });
    process.stderr.write(`${formatTable(report)}\n${formatDetails(report)}\n`);
    expect(report.results.map((r) => r.fault)).toEqual([...SHORT, 'final']);
    for (const r of report.results) {
      expect(r.failures, `${r.fault}: ${r.failures.join('; ')}`).toEqual([]);
      expect(r.lost).toBe(0);
      expect(r.rootsAgree).toBe(true);
      expect(r.supplyOk).toBe(true);
    }
    expect(report.results.at(-1)!.ackedTotal).toBeGreaterThan(1_000);
  }, 180_000);
});
