import { describe, expect, it } from 'vitest';
import { runRange } from './run-range.js';

// 1000 seeds in total, split over two files so vitest runs them on both cores.
describe('simulator, seeds 1..500', () => {
  it('500 seeds (4 and 7 validators): no safety violations, no liveness failures', () => {
    const r = runRange(1, 500);
    console.log(
      `seeds 1..500: ${r.seeds} seeds, ${r.safetyViolations} safety violations, ${r.livenessFailures} liveness failures, ${r.equivocationsDetected} equivocations detected, ${r.forgedRuns} forged runs fed to followers (${r.refusedRuns} refused), ${r.batchRequests} batch requests (${r.batchesFetched} batches fetched), ${(r.ms / 1000).toFixed(1)} s`,
    );
    expect(r.failing).toEqual([]);
    expect(r.safetyViolations).toBe(0);
    expect(r.livenessFailures).toBe(0);
    // The adversary must actually have attacked, or the run proves little.
    expect(r.equivocationsDetected).toBeGreaterThan(0);
    // Business and slim nodes ran the production follower, and Byzantine validators fed them forged runs.
    expect(r.refusedRuns).toBeGreaterThan(0);
    // Validators fetched missing batches over the lossy network with the production ValidatorPayloads.
    expect(r.batchesFetched).toBeGreaterThan(0);
  }, 120_000);
});
