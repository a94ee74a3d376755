import { Command } from 'commander';
import { runSeed, type SeedResult } from './simulator.js';

/**
 * Deterministic simulator CLI. Seeds alternate 4 and 7 validators unless --validators is given;
 * a failing seed prints the exact command that replays it with a log.
 */
const program = new Command()
  .name('hotledger-sim')
  .option('--seeds <n>', 'number of seeds to run', '100')
  .option('--start <s>', 'first seed', '1')
  .option('--seed <s>', 'replay one seed (implies --verbose)')
  .option('--validators <v>', 'validator count (default: alternate 4 and 7)')
  .option('--real-crypto', 'libsodium Ed25519 and the wire codec instead of the ideal-signature stand-in', false)
  .option('--verbose', 'print the fault log of each seed', false)
  .parse();

const opts = program.opts<{ seeds: string; start: string; seed?: string; validators?: string; realCrypto: boolean; verbose: boolean }>();
const fixedV = opts.validators !== undefined ? Number(opts.validators) : undefined;
const one = opts.seed !== undefined ? Number(opts.seed) : undefined;
const count = one !== undefined ? 1 : Number(opts.seeds);
const start = one ?? Number(opts.start);
const verbose = opts.verbose || one !== undefined;
if (![count, start].every(Number.isSafeInteger) || count < 1 || (fixedV !== undefined && (!Number.isInteger(fixedV) || fixedV < 1))) {
  console.error('--seeds, --start, --seed and --validators take positive integers');
  process.exit(2);
}

function validatorsFor(seed: number): number {
  return seed % 2 === 0 ? 7 : 4;
}

let safety = 0;
let liveness = 0;
const t0 = performance.now();
for (let s = start; s < start + count; s++) {
  const v = fixedV ?? validatorsFor(s);
  const r: SeedResult = runSeed(s, { validators: v, realCrypto: opts.realCrypto, log: verbose ? (l) => console.log(`  [seed ${s}] ${l}`) : undefined });
  safety += r.safetyViolations;
  if (r.livenessFailure) liveness++;
  if (r.safetyViolations > 0 || r.livenessFailure || verbose) {
    const byz = r.byzantine.map((b) => `${b.index}:${b.mode}`).join(',') || 'none';
    console.log(`seed ${s}: ${v} validators, byzantine ${byz}, height ${r.commits}, ${r.crashes} crashes, ${r.partitions} partitions, ${r.equivocationsDetected} equivocations detected`);
    for (const x of r.violations.slice(0, 5)) console.log(`  SAFETY: ${x}`);
    if (r.livenessDetail !== null) console.log(`  LIVENESS: ${r.livenessDetail}`);
    if (r.safetyViolations > 0 || r.livenessFailure) {
      console.log(`  replay: node dist/src/sim/main.js --seed ${s} --validators ${v}${opts.realCrypto ? ' --real-crypto' : ''}`);
    }
  }
}
console.log(`${count} seeds, ${safety} safety violations, ${liveness} liveness failures`);
if (verbose) console.log(`(${((performance.now() - t0) / 1000).toFixed(1)} s)`);
process.exitCode = safety > 0 || liveness > 0 ? 1 : 0;
