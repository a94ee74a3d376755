import { describe, expect, it } from 'vitest';
import { runRange } from './run-range.js';

describe('simulator with libsodium Ed25519 and the wire codec', () => {
  it('20 seeds: no safety violations, no liveness failures', () => {
    const r = runRange(10_001, 20, { realCrypto: true });
    console.log(`real crypto: ${r.seeds} seeds, ${r.safetyViolations} safety violations, ${r.livenessFailures} liveness failures, ${(r.ms / 1000).toFixed(1)} s`);
    expect(r.failing).toEqual([]);
  }, 120_000);
});
