import { describe, expect, it } from 'vitest';
import { runSeed } from '../../src/sim/simulator.js';

const HOUR = 3_600_000;
const validators = (seed: number): number => (seed % 2 ? 4 : 7);

describe('simulator: an idle spell after the faults', () => {
  it('3 simulated hours idle: no liveness or safety failure, a bounded number of empty blocks and rounds, and the next batches commit fast (10 seeds)', () => {
    let worstLate = 0;
    for (let seed = 30_001; seed <= 30_010; seed++) {
      // Round timeout 200 ms, so the idle round timer is 12 s: 900 idle rounds in 3 h.
      const r = runSeed(seed, { validators: validators(seed), idleMs: 3 * HOUR });
      expect(r.safetyViolations, `seed ${seed}: ${r.violations[0]}`).toBe(0);
      expect(r.livenessFailure, `seed ${seed}: ${r.livenessDetail}`).toBe(false);
      // The old heartbeat (100 ms here) committed about 100,000 empty blocks in 3 hours.
      expect(r.idleEmptyBlocks, `seed ${seed}`).toBeLessThanOrEqual(2);
      // A Byzantine leader may propose a batch nobody else can get (seed 30006, 7 validators, one
      // equivocating leader proposing its own uncertified batch every time it leads): that round is
      // busy for everyone (a block with payload awaits its QC) and ends at the busy timeout, not the
      // idle one. So b Byzantine leaders can cut short up to b rounds in n: n / (n - b) times the
      // idle count. Without them the bound is the idle count itself.
      const byzantineShare = r.validators / (r.validators - r.byzantine.length);
      expect(r.idleRounds, `seed ${seed}`).toBeLessThanOrEqual(((3 * HOUR) / 12_000) * byzantineShare + 5);
      expect(r.maxLateCommitMs, `seed ${seed}`).toBeGreaterThan(0);
      worstLate = Math.max(worstLate, r.maxLateCommitMs);
    }
    // Up to f silent or equivocating leaders in a row at a 200 ms timeout (back-off cap 800 ms):
    // a few timeouts, never the 12 s idle timer.
    expect(worstLate).toBeLessThan(4_000);
    console.log(`idle 3 h, 10 seeds: post-idle batches committed on every honest node within ${worstLate} ms`);
  }, 120_000);

  it('the checker still catches a pacemaker that treats every round as idle (liveness under load)', () => {
    let failures = 0;
    for (let seed = 1; seed <= 10; seed++) if (runSeed(seed, { validators: validators(seed), brokenIdle: true }).livenessFailure) failures++;
    expect(failures).toBeGreaterThanOrEqual(5);
    // And the same seeds pass with the real pacemaker.
    for (let seed = 1; seed <= 10; seed++) expect(runSeed(seed, { validators: validators(seed) }).livenessFailure).toBe(false);
  }, 60_000);
});
