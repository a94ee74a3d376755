import { describe, expect, it } from 'vitest';
import { runSeed } from '../../src/sim/simulator.js';

const validators = (seed: number): number => (seed % 2 ? 4 : 7);

describe("simulator: an origin's batches reach each core in its seal order (BatchSequencer + OriginQueues)", () => {
  it('the checker catches batches offered on certification, ignoring their origin’s queue (the old give-up)', () => {
    let caught = 0;
    const failing: number[] = [];
    for (let seed = 60_001; seed <= 60_012; seed++) {
      const broken = runSeed(seed, { validators: validators(seed), brokenOriginOrder: true });
      if (broken.violations.some((v) => v.includes('out of seal order'))) {
        caught++;
        failing.push(seed);
      }
    }
    expect(caught).toBeGreaterThanOrEqual(6);
    // The same seeds with the production rule: clean, and the rule really ran.
    for (const seed of failing) {
      const r = runSeed(seed, { validators: validators(seed) });
      expect(r.safetyViolations, `seed ${seed}: ${r.violations[0]}`).toBe(0);
      expect(r.livenessFailure, `seed ${seed}: ${r.livenessDetail}`).toBe(false);
      expect(r.queueOffers).toBeGreaterThan(0);
    }
  }, 60_000);

  it('gaps are asked for again from the origin (bn) until they fill: none is given up, no queue stays blocked', () => {
    let requests = 0;
    let giveUps = 0;
    for (let seed = 60_001; seed <= 60_012; seed++) {
      const r = runSeed(seed, { validators: validators(seed) });
      expect(r.safetyViolations, `seed ${seed}: ${r.violations[0]}`).toBe(0);
      expect(r.stuckQueues).toEqual([]);
      requests += r.gapRequests;
      giveUps += r.sequencerGiveUps;
    }
    expect(requests).toBeGreaterThan(0);
    // Before, the sequencer gave gaps up after one round timeout and later batches went ahead.
    expect(giveUps).toBe(0);
  }, 60_000);
});
