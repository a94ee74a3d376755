import { afterAll, describe, expect, it } from 'vitest';
import { RejectCode } from '../../src/errors.js';
import { VerifyPool } from '../../src/pipeline/verify-pool.js';
import { Off, TX_SIZE } from '../../src/tx/layout.js';
import { generateTransfers } from '../../src/workload/generate.js';
import { devnetKeys } from '../support/fixtures.js';

const CHAIN = 21;
const pool = new VerifyPool({ threads: 2, chunkSize: 64 });
afterAll(() => pool.close());

describe('VerifyPool over several segments', () => {
  it('verifies a run of segments as one, each status at its position, across chunk and segment borders', async () => {
    const keys = devnetKeys(CHAIN, 6);
    const all = generateTransfers({ chainId: CHAIN, senders: keys.slice(0, 3), recipients: keys.slice(3).map((k) => k.publicKey), count: 300 });
    const bad = [0, 63, 64, 65, 150, 299];
    for (const i of bad) all[i * TX_SIZE + Off.SIGNATURE + 3]! ^= 0x10;
    // Uneven segments: borders at 1, 65, 200.
    const cuts = [0, 1, 65, 200, 300];
    const segments = cuts.slice(1).map((end, k) => ({ txs: all.subarray(cuts[k]! * TX_SIZE, end * TX_SIZE), count: end - cuts[k]! }));
    const out = await pool.verifySegments(segments);
    expect(out.length).toBe(300);
    const expected = Array.from({ length: 300 }, (_, i) => (bad.includes(i) ? RejectCode.BAD_SIGNATURE : 0));
    expect(Array.from(out)).toEqual(expected);
    expect(Array.from(await pool.verify(all, 300))).toEqual(expected);
  });
});
