import { performance } from 'node:perf_hooks';
import { PeerBatchIntake } from '../src/ordering/peer-batch-intake.js';
import { devnetKeyPair, generateTransfers } from '../src/workload/generate.js';
import { TX_SIZE } from '../src/tx/layout.js';
import { measureVerifyCeiling } from './ceiling.js';

/**
 * What a business or slim node saves by not verifying certified batches (docs/consensus.md,
 * "Followers"): per transaction, a follower hashes it (its id, then the batch digest that binds it
 * to the certified block) where a verifier checks an Ed25519 signature. Both on one thread, same
 * run, same transactions.
 */
const count = Number(process.argv[2] ?? 100_000);
const chainId = 1;
const keys = Array.from({ length: 1_000 }, (_, i) => devnetKeyPair(chainId, i));
const txs = generateTransfers({ chainId, senders: keys, recipients: keys.map((k) => k.publicKey), count });
const BATCH = 4096;

const verifyPerSec = await measureVerifyCeiling(txs, count, 1);
const t0 = performance.now();
for (let at = 0; at < count; at += BATCH) {
  const n = Math.min(BATCH, count - at);
  PeerBatchIntake.identify(txs.subarray(at * TX_SIZE, (at + n) * TX_SIZE));
}
const identifyPerSec = (count / (performance.now() - t0)) * 1000;
const row = {
  txs: count,
  verifyPerSec: Math.round(verifyPerSec),
  followerIdentifyPerSec: Math.round(identifyPerSec),
  usPerTxVerify: +(1e6 / verifyPerSec).toFixed(2),
  usPerTxFollower: +(1e6 / identifyPerSec).toFixed(2),
  savedFraction: +(1 - verifyPerSec / identifyPerSec).toFixed(3),
};
console.log(JSON.stringify(row));
console.log(
  `one thread: verifying ${row.usPerTxVerify} µs/tx (${row.verifyPerSec}/s, the same-run ceiling); a follower's id + digest hashing ${row.usPerTxFollower} µs/tx (${row.followerIdentifyPerSec}/s): ${(100 * row.savedFraction).toFixed(1)} % of the per-transaction CPU of intake saved`,
);
