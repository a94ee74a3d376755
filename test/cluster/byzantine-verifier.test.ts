import { describe, it, expect } from 'vitest';
import { runCampaign } from '../../src/faults/campaign.js';
import { faultsByName } from '../../src/faults/faults.js';
import { formatDetails, formatTable } from '../../src/faults/report.js';

/**
 * Batch certificates on real processes: a Byzantine v0 (a real validator key on the real
 * PeerTransport) sends its own batch holding a bad signature and signs a batch vote for it. The
 * honest designated verifier refuses, so the batch never gathers f + 1 votes: the transaction with
 * the bad signature never commits, and every campaign promise (nothing acknowledged lost, equal
 * hashes and roots, commits resume) holds. Needs `npm run build` (validators run dist/).
 */
describe('a Byzantine validator vouching for its own bad batch', () => {
  it('byz-vouched-bad-batch: the batch never commits and every promise holds', async () => {
    const faults = ['byz-vouched-bad-batch'];
    const report = await runCampaign({ faults: faultsByName(faults), timeoutMs: 1_000, rssLimitMb: 1_024, log: () => undefined });
    process.stderr.write(`${formatTable(report)}\n${formatDetails(report)}\n`);
    expect(report.results.map((r) => r.fault)).toEqual([...faults, 'final']);
    // The attack's own probe (the tx with the bad signature never commits) and every promise
    // while it runs, then in the final phase with v0 honest again: commits resume within
    // 2 x timeoutMs. With f + 1 verifiers they once did not (no commit in 10 s): batches that
    // waited for the silent v0 were overtaken by their origin's later ones after a 2-timeout
    // give-up, whose nonces were then rejected at execution, stranding every later transfer.
    for (const r of report.results) {
      expect(r.failures, `${r.fault}: ${r.failures.join('; ')}`).toEqual([]);
      expect(r.lost).toBe(0);
      expect(r.rootsAgree).toBe(true);
    }
  }, 180_000);
});
