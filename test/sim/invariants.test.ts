import { describe, expect, it } from 'vitest';
import { genesisBlock, genesisQc, makeBlock, type Block } from '../../src/consensus/types.js';
import { InvariantChecker } from '../../src/sim/invariants.js';
import { Prng } from '../../src/sim/prng.js';
import { runSeed } from '../../src/sim/simulator.js';

const g = genesisBlock(1);
const child = (parent: Block, round: number, tag: number): Block =>
  makeBlock({
    chainId: 1,
    round,
    height: parent.height + 1,
    parentHash: parent.hash,
    qc: parent.height === 0 ? genesisQc(1) : { round: parent.round, blockHash: parent.hash, signatures: [] },
    payload: [new Uint8Array(32).fill(tag)],
    proposer: 0,
    parentStateRoot: new Uint8Array(32),
    timestampMs: 0,
  });

describe('InvariantChecker', () => {
  it('accepts identical chains committed by several nodes', () => {
    const c = new InvariantChecker();
    const a1 = child(g, 1, 1);
    const a2 = child(a1, 2, 2);
    for (const node of [0, 1, 2]) for (const b of [a1, a2]) c.onCommit(node, b);
    expect(c.violations).toEqual([]);
  });

  it('reports two different blocks at one height, and a gap or a broken link in one node', () => {
    const c = new InvariantChecker();
    const a1 = child(g, 1, 1);
    const b1 = child(g, 1, 2);
    c.onCommit(0, a1);
    c.onCommit(1, b1);
    expect(c.violations).toHaveLength(1);
    c.onCommit(0, child(child(a1, 2, 3), 3, 4)); // skips height 2
    expect(c.violations).toHaveLength(2);
    c.onCommit(1, child(a1, 2, 5)); // height 2 but its parent is not b1
    expect(c.violations.length).toBeGreaterThanOrEqual(3);
  });
});

describe('the simulator catches injected safety bugs', () => {
  it("followers that take any certificate for valid accept a Byzantine validator's forged block", () => {
    let violations = 0;
    let honest = 0;
    for (let seed = 1; seed <= 40; seed++) {
      violations += runSeed(seed, { validators: 4, byzantine: 1, brokenFollowerCheck: true }).safetyViolations;
      honest += runSeed(seed, { validators: 4, byzantine: 1 }).safetyViolations;
    }
    expect(violations).toBeGreaterThan(0);
    expect(honest).toBe(0);
  });

  it('honest nodes with an approve-everything voting rule and a 1-chain commit rule fork', () => {
    let violations = 0;
    let firstBad: number | null = null;
    for (let seed = 1; seed <= 20; seed++) {
      const r = runSeed(seed, { validators: seed % 2 ? 4 : 7, brokenSafety: true, brokenCommitRule: true });
      violations += r.safetyViolations;
      if (r.safetyViolations > 0 && firstBad === null) firstBad = seed;
    }
    expect(violations).toBeGreaterThan(0);
    // And the failure replays exactly from its seed.
    const a = runSeed(firstBad!, { validators: firstBad! % 2 ? 4 : 7, brokenSafety: true, brokenCommitRule: true });
    const b = runSeed(firstBad!, { validators: firstBad! % 2 ? 4 : 7, brokenSafety: true, brokenCommitRule: true });
    expect(a.violations).toEqual(b.violations);
    expect(a.safetyViolations).toBeGreaterThan(0);
  });

  it('the 1-chain commit rule alone is caught too (with a correct voting rule)', () => {
    let bad: number | null = null;
    for (let seed = 1; seed <= 300 && bad === null; seed++) {
      if (runSeed(seed, { validators: 4, brokenCommitRule: true }).safetyViolations > 0) bad = seed;
    }
    expect(bad).not.toBeNull();
    expect(runSeed(bad!, { validators: 4 }).safetyViolations).toBe(0);
  }, 60_000);

  it('a validator that hands a committed block to its ledger before all of its batches are here is caught', () => {
    let bad: number | null = null;
    for (let seed = 1; seed <= 40 && bad === null; seed++) {
      const r = runSeed(seed, { validators: 4, brokenDelivery: true });
      if (r.violations.some((v) => v.includes('to the ledger without'))) bad = seed;
    }
    expect(bad).not.toBeNull();
    const clean = runSeed(bad!, { validators: 4 });
    expect(clean.safetyViolations).toBe(0);
    // The production payload side really fetched batches over the lossy network in that run.
    expect(clean.batchRequests).toBeGreaterThan(0);
  }, 60_000);

  it('validators that always ask the same validator for missing batches never get some of them', () => {
    let stuck: number | null = null;
    for (let seed = 1; seed <= 60 && stuck === null; seed++) {
      const r = runSeed(seed, { validators: seed % 2 ? 4 : 7, brokenFetchRotation: true });
      if (r.livenessFailure && r.livenessDetail?.includes('never applied')) stuck = seed;
    }
    expect(stuck).not.toBeNull();
    const r = runSeed(stuck!, { validators: stuck! % 2 ? 4 : 7 });
    expect(r.livenessFailure).toBe(false);
    expect(r.safetyViolations).toBe(0);
  }, 60_000);

  it('a restarted validator offered a batch of a block committed before its restart re-proposes it, and stalls the chain', { timeout: 60_000 }, () => {
    // Seed 93 stalled this way when the simulator first drove batch fetching. Which seeds meet a
    // restart with such a batch depends on the whole schedule (votes broadcast, payload changes),
    // so the first one that stalls is searched for; with the fix it is clean.
    let stalled: number | null = null;
    for (let seed = 1; seed <= 400 && stalled === null; seed++) if (runSeed(seed, { validators: 4, brokenReoffer: true }).livenessFailure) stalled = seed;
    expect(stalled).not.toBeNull();
    const r = runSeed(stalled!, { validators: 4 });
    expect(r.livenessFailure).toBe(false);
    expect(r.requeued + r.batchesFetched).toBeGreaterThan(0);
  });

  it('more than f Byzantine validators are outside the guarantee: liveness can fail', () => {
    // With 2 of 4 silent there is no quorum of live validators, so nothing can commit.
    const r = runSeed(3, { validators: 4, byzantine: 2, byzantineMode: 'silent' });
    expect(r.livenessFailure).toBe(true);
    expect(r.safetyViolations).toBe(0);
  });
});

describe('determinism', () => {
  it('a seed fixes the whole run', () => {
    const a = runSeed(12345, { validators: 7 });
    const b = runSeed(12345, { validators: 7 });
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect(a.messages).toBeGreaterThan(100);
  });

  it('Prng is reproducible and in range', () => {
    const x = new Prng(7);
    const y = new Prng(7);
    const xs = Array.from({ length: 1000 }, () => x.int(3, 9));
    expect(xs).toEqual(Array.from({ length: 1000 }, () => y.int(3, 9)));
    expect(Math.min(...xs)).toBe(3);
    expect(Math.max(...xs)).toBe(9);
    expect(new Prng(8).nextU32()).not.toBe(new Prng(7).nextU32());
  });
});
