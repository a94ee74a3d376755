import { describe, expect, it } from 'vitest';
import { runSeed } from '../../src/sim/simulator.js';

const validators = (seed: number): number => (seed % 2 ? 4 : 7);

describe('simulator: batch certificates', () => {
  it('Byzantine verifiers vouch for batches holding a bad signature: none commits or executes; lost votes are made up', () => {
    let bad = 0;
    let lost = 0;
    for (let seed = 40_001; seed <= 40_016; seed++) {
      const n = validators(seed);
      const r = runSeed(seed, { validators: n, byzantine: n === 4 ? 1 : 2, byzantineVerifiers: true });
      expect(r.safetyViolations, `seed ${seed}: ${r.violations[0]}`).toBe(0);
      expect(r.livenessFailure, `seed ${seed}: ${r.livenessDetail}`).toBe(false);
      bad += r.badBatches;
      lost += r.batchVotesLost;
    }
    // The attack and the loss really happened.
    expect(bad).toBeGreaterThan(50);
    expect(lost).toBeGreaterThan(100);
  }, 120_000);

  it('without faults a batch is verified f + 1 times: its origin at admission and f designated verifiers', () => {
    for (const n of [4, 7]) {
      const r = runSeed(n, { validators: n, byzantine: 0, faultMs: 200 });
      expect(r.livenessFailure).toBe(false);
      expect(r.verifiesPerBatch).toBeCloseTo(Math.floor((n - 1) / 3) + 1, 0);
    }
  }, 60_000);

  it('the checker catches a certificate threshold of f (one short): a Byzantine vote alone certifies a bad batch, and it commits', () => {
    let violations = 0;
    for (let seed = 40_001; seed <= 40_010; seed += 2) {
      violations += runSeed(seed, { validators: 4, byzantine: 1, byzantineVerifiers: true, brokenCertQuorum: true }).safetyViolations;
    }
    expect(violations).toBeGreaterThan(0);
  }, 60_000);

  it('the checker catches lost votes never made up (no certificate requests, no escalation): liveness fails', () => {
    let failures = 0;
    for (let seed = 40_001; seed <= 40_010; seed++) if (runSeed(seed, { validators: validators(seed), brokenCertRecovery: true }).livenessFailure) failures++;
    expect(failures).toBeGreaterThanOrEqual(3);
  }, 60_000);
});
