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
  .option('--idle-ms <ms>', 'quiet spell between the heal and the post-heal batches (simulated ms)', '0')
  .option('--real-crypto', 'libsodium Ed25519 and the wire codec instead of the ideal-signature stand-in', false)
  .option('--verbose', 'print the fault log of each seed', false)
  .parse();

const opts = program.opts<{ seeds: string; start: string; seed?: string; validators?: string; idleMs: string; realCrypto: boolean; verbose: boolean }>();
const idleMs = Number(opts.idleMs);
const fixedV = opts.validators !== undefined ? Number(opts.validators) : undefined;
const one = opts.seed !== undefined ? Number(opts.seed) : undefined;
const count = one !== undefined ? 1 : Number(opts.seeds);
const start = one ?? Number(opts.start);
const verbose = opts.verbose || one !== undefined;
if (![count, start, idleMs].every(Number.isSafeInteger) || count < 1 || idleMs < 0 || (fixedV !== undefined && (!Number.isInteger(fixedV) || fixedV < 1))) {
  console.error('--seeds, --start, --seed, --validators and --idle-ms take positive integers');
  process.exit(2);
}

function validatorsFor(seed: number): number {
  return seed % 2 === 0 ? 7 : 4;
}

let safety = 0;
let liveness = 0;
let idleEmpty = 0;
let idleRounds = 0;
let lateMs = 0;
let forged = 0;
let refused = 0;
let followers = 0;
let queueOffers = 0;
let giveUps = 0;
let gapRequests = 0;
const t0 = performance.now();
for (let s = start; s < start + count; s++) {
  const v = fixedV ?? validatorsFor(s);
  const r: SeedResult = runSeed(s, { validators: v, realCrypto: opts.realCrypto, idleMs, log: verbose ? (l) => console.log(`  [seed ${s}] ${l}`) : undefined });
  safety += r.safetyViolations;
  idleEmpty = Math.max(idleEmpty, r.idleEmptyBlocks);
  idleRounds = Math.max(idleRounds, r.idleRounds);
  lateMs = Math.max(lateMs, r.maxLateCommitMs);
  forged += r.forgedRuns;
  refused += r.refusedRuns;
  followers += r.followers;
  queueOffers += r.queueOffers;
  giveUps += r.sequencerGiveUps;
  gapRequests += r.gapRequests;
  if (r.livenessFailure) liveness++;
  if (r.safetyViolations > 0 || r.livenessFailure || verbose) {
    const byz = r.byzantine.map((b) => `${b.index}:${b.mode}`).join(',') || 'none';
    console.log(
      `seed ${s}: ${v} validators, byzantine ${byz}, height ${r.commits}, ${r.crashes} crashes, ${r.partitions} partitions, ${r.equivocationsDetected} equivocations detected`,
    );
    for (const x of r.violations.slice(0, 5)) console.log(`  SAFETY: ${x}`);
    if (r.livenessDetail !== null) console.log(`  LIVENESS: ${r.livenessDetail}`);
    if (r.safetyViolations > 0 || r.livenessFailure) {
      console.log(`  replay: node dist/src/sim/main.js --seed ${s} --validators ${v}${idleMs > 0 ? ` --idle-ms ${idleMs}` : ''}${opts.realCrypto ? ' --real-crypto' : ''}`);
    }
  }
}
console.log(`${count} seeds, ${safety} safety violations, ${liveness} liveness failures`);
console.log(`origin order: ${queueOffers} batches offered in seal order (checked), ${gapRequests} gap requests, ${giveUps} gaps given up (not checked across)`);
console.log(`followers: ${followers} simulated business/slim nodes, ${forged} forged commit runs from Byzantine validators, ${refused} refused`);
if (idleMs > 0)
  console.log(`idle ${idleMs} ms: at most ${idleEmpty} empty blocks and ${idleRounds} rounds per honest node; post-heal batches committed everywhere within ${lateMs} ms (max)`);
if (verbose) console.log(`(${((performance.now() - t0) / 1000).toFixed(1)} s)`);
process.exitCode = safety > 0 || liveness > 0 ? 1 : 0;
