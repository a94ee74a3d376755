/**
 * The module parser decides consensus (what deploys are refused), so it must never fail in any
 * other way than a typed refusal: mutated real modules either come out instrumented and valid, or
 * are refused with a ModuleRejectReason. A module V8 accepts must never be refused because our
 * instrumentation of it does not validate.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { beforeAll, expect, it } from 'vitest';
import { ModuleRejected, prepareModule } from '../../src/contracts/wasm-module.js';

let seeds: Buffer[] = [];
beforeAll(() => {
  execFileSync(process.execPath, ['contracts/build.mjs'], { stdio: 'inherit', timeout: 120_000 });
  seeds = ['token', 'escrow', 'testkit'].map((n) => readFileSync(`dist/contracts/${n}.wasm`));
}, 150_000);

/** xorshift32: the same mutations on every run. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

it('refuses or instruments 3,000 mutated modules, never failing another way', () => {
  const next = rng(0x5eed);
  const outcome = { accepted: 0, refused: 0 };
  for (let i = 0; i < 3000; i++) {
    const m = Buffer.from(seeds[i % seeds.length]!);
    const edits = 1 + (next() % 4);
    for (let e = 0; e < edits; e++) {
      const at = 8 + (next() % (m.length - 8));
      m[at] = next() & 0xff;
    }
    const input = i % 10 === 9 ? m.subarray(0, 8 + (next() % (m.length - 8))) : m; // some truncated
    try {
      const p = prepareModule(input);
      expect(WebAssembly.validate(p.instrumented)).toBe(true);
      outcome.accepted++;
    } catch (e) {
      if (!(e instanceof ModuleRejected)) throw new Error(`mutation ${i}: ${(e as Error).stack}`);
      if (/instrumented module does not validate/.test(e.message)) throw new Error(`mutation ${i}: V8 rejects our instrumentation of a module it accepts`);
      outcome.refused++;
    }
  }
  expect(outcome.accepted + outcome.refused).toBe(3000);
  expect(outcome.accepted).toBeGreaterThan(0);
}, 60_000);
