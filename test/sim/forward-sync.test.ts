import { describe, expect, it } from 'vitest';
import { runSeed, type SimOptions } from '../../src/sim/simulator.js';

// A node down through the fault phase and half the healed one, with peers that keep only 8
// committed blocks in memory: it can catch up only by forward sync from their stored chains.
// Batches keep coming for 5 s after the heal: an idle cluster makes no blocks, and the chain
// must grow well past what peers keep in memory while the node is down.
const scenario: SimOptions = { longOutage: true, retainCommitted: 8, settleMs: 12_000, lateLoadMs: 5_000 };
const validators = (seed: number): number => (seed % 2 ? 4 : 7);

describe('simulator: a node that falls further behind than peers keep in memory', () => {
  it("catches up from peers' stored chains (20 seeds, no Byzantine validators)", () => {
    const failing: string[] = [];
    for (let seed = 20_001; seed <= 20_020; seed++) {
      const r = runSeed(seed, { ...scenario, validators: validators(seed), byzantine: 0 });
      // The scenario must really put the node out of reach of every peer's memory.
      expect(r.maxRestartLag, `seed ${seed}`).toBeGreaterThan(8);
      if (r.safetyViolations > 0 || r.livenessFailure) failing.push(`seed ${seed}: ${r.violations[0] ?? r.livenessDetail}`);
    }
    expect(failing).toEqual([]);
  }, 60_000);

  it('and with up to f Byzantine validators among the responders (20 seeds)', () => {
    const failing: string[] = [];
    for (let seed = 20_101; seed <= 20_120; seed++) {
      const r = runSeed(seed, { ...scenario, validators: validators(seed) });
      if (r.safetyViolations > 0 || r.livenessFailure) failing.push(`seed ${seed}: ${r.violations[0] ?? r.livenessDetail}`);
    }
    expect(failing).toEqual([]);
  }, 60_000);

  it('a node only a few blocks behind, whose peers pruned those blocks from memory, syncs forward (seed 55,433)', () => {
    // Found after votes were broadcast: node 3, partitioned, rejoined 3 blocks above its root; every
    // backward answer stopped at the peers' retained window, and asking backwards again got nothing.
    const r = runSeed(55_433, { validators: 4 });
    expect(r.violations).toEqual([]);
    expect(r.livenessDetail ?? '').toBe('');
    expect(r.livenessFailure).toBe(false);
  }, 30_000);

  it('without stored chains to serve from, the same node never catches up', () => {
    for (let seed = 20_001; seed <= 20_006; seed++) {
      const r = runSeed(seed, { ...scenario, validators: validators(seed), byzantine: 0, noCommittedChain: true });
      expect(r.safetyViolations, `seed ${seed}`).toBe(0);
      expect(r.livenessFailure, `seed ${seed}`).toBe(true);
    }
  }, 60_000);
});
