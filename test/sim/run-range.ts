import { runSeed, type SeedResult } from '../../src/sim/simulator.js';

export interface RangeSummary {
  seeds: number;
  safetyViolations: number;
  livenessFailures: number;
  failing: string[];
  equivocationsDetected: number;
  /** Runs Byzantine validators forged for followers, and those the followers refused. */
  forgedRuns: number;
  refusedRuns: number;
  /** Batch requests honest validators sent (ValidatorPayloads) and batches the answers brought. */
  batchRequests: number;
  batchesFetched: number;
  ms: number;
}

/** Odd seeds run 4 validators, even seeds 7 (the CLI's default mix). */
export function runRange(start: number, count: number, opts: { realCrypto?: boolean } = {}): RangeSummary {
  const t0 = performance.now();
  const s: RangeSummary = {
    seeds: count,
    safetyViolations: 0,
    livenessFailures: 0,
    failing: [],
    equivocationsDetected: 0,
    forgedRuns: 0,
    refusedRuns: 0,
    batchRequests: 0,
    batchesFetched: 0,
    ms: 0,
  };
  for (let seed = start; seed < start + count; seed++) {
    const validators = seed % 2 === 0 ? 7 : 4;
    const r: SeedResult = runSeed(seed, { validators, realCrypto: opts.realCrypto });
    s.safetyViolations += r.safetyViolations;
    s.equivocationsDetected += r.equivocationsDetected;
    s.forgedRuns += r.forgedRuns;
    s.refusedRuns += r.refusedRuns;
    s.batchRequests += r.batchRequests;
    s.batchesFetched += r.batchesFetched;
    if (r.livenessFailure) s.livenessFailures++;
    if (r.safetyViolations > 0 || r.livenessFailure) {
      s.failing.push(
        `seed ${seed} (${validators} validators): ${r.violations[0] ?? r.livenessDetail} — replay: node dist/src/sim/main.js --seed ${seed} --validators ${validators}${opts.realCrypto ? ' --real-crypto' : ''}`,
      );
    }
  }
  s.ms = performance.now() - t0;
  return s;
}
