import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VerifyPool } from '../../src/pipeline/verify-pool.js';
import { SharedVerifier } from '../../src/host/shared-verifier.js';
import { PeerBatchIntake } from '../../src/ordering/peer-batch-intake.js';
import { devnetKeyPair, generateTransfers } from '../../src/workload/generate.js';
import { Off, TX_SIZE } from '../../src/tx/layout.js';

/** Real verify pool (1 worker thread, libsodium): the shared verifier in front of it, as a host runs it. */
const CHAIN = 77;
let pool: VerifyPool;

beforeAll(() => {
  pool = new VerifyPool({ threads: 1, chunkSize: 4096 });
});
afterAll(async () => {
  await pool.close();
});

function batch(count: number, startNonce = 1): Buffer {
  return generateTransfers({ chainId: CHAIN, senders: [devnetKeyPair(CHAIN, 0)], recipients: [devnetKeyPair(CHAIN, 1).publicKey], count, startNonces: [startNonce] });
}

/** A forged copy: same transactions and ids (so the same batch digest), one signature byte changed. */
function forge(txs: Buffer, at: number): Buffer {
  const copy = Buffer.from(txs);
  copy[at * TX_SIZE + Off.SIGNATURE + 5]! ^= 0x01;
  return copy;
}

describe('SharedVerifier: one verification per batch per process', () => {
  it('four nodes asking for the same batch at once run one verification; later askers hit the cache', async () => {
    const v = new SharedVerifier(pool, { cacheBatches: 16 });
    const txs = batch(50);
    const answers = await Promise.all([0, 1, 2, 3].map(() => v.verify(Buffer.from(txs), 50)));
    for (const a of answers) expect(Array.from(a).every((x) => x === 0)).toBe(true);
    expect(v.stats).toEqual({ requested: 4, run: 1, joined: 3, cached: 0 });
    await v.verify(txs, 50);
    expect(v.stats).toMatchObject({ requested: 5, run: 1, cached: 1 });
    // Each asker has its own copy of the verdict.
    answers[0]![0] = 9;
    expect(answers[1]![0]).toBe(0);
  });

  it('a forged copy with the genuine batch digest is verified on its own and gets its own verdict, in either order', async () => {
    const txs = batch(20, 100);
    const forged = forge(txs, 7);
    expect(Buffer.from(PeerBatchIntake.identify(forged).digest).equals(Buffer.from(PeerBatchIntake.identify(txs).digest))).toBe(true);

    const genuineFirst = new SharedVerifier(pool, { cacheBatches: 16 });
    const [g1, f1] = await Promise.all([genuineFirst.verify(txs, 20), genuineFirst.verify(forged, 20)]);
    expect(g1.every((x) => x === 0)).toBe(true);
    expect(f1[7]).not.toBe(0);
    expect(genuineFirst.stats.run).toBe(2);

    const forgedFirst = new SharedVerifier(pool, { cacheBatches: 16 });
    expect((await forgedFirst.verify(forged, 20))[7]).not.toBe(0);
    expect((await forgedFirst.verify(txs, 20)).every((x) => x === 0)).toBe(true);
    expect((await forgedFirst.verify(forged, 20))[7]).not.toBe(0);
    expect(forgedFirst.stats).toMatchObject({ run: 2, cached: 1 });
  });

  it('keeps at most cacheBatches verdicts, least recently used out first', async () => {
    const v = new SharedVerifier(pool, { cacheBatches: 2 });
    const [a, b, c] = [batch(3, 1000), batch(3, 2000), batch(3, 3000)];
    await v.verify(a, 3);
    await v.verify(b, 3);
    await v.verify(a, 3); // a is now the most recent
    await v.verify(c, 3); // evicts b
    expect(v.stats).toMatchObject({ run: 3, cached: 1 });
    await v.verify(a, 3);
    expect(v.stats).toMatchObject({ run: 3, cached: 2 });
    await v.verify(b, 3);
    expect(v.stats).toMatchObject({ run: 4, cached: 2 });
  });
});
