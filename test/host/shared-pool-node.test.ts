import { afterAll, describe, expect, it } from 'vitest';
import { startNode } from '../../src/node/node.js';
import { VerifyPool } from '../../src/pipeline/verify-pool.js';
import { SharedVerifier } from '../../src/host/shared-verifier.js';
import { generateTransfers } from '../../src/workload/generate.js';
import { devnetKeys, tempDir, testConfig } from '../support/fixtures.js';

const CHAIN = 99; // test profile chain id
const dirs: { remove(): void }[] = [];
afterAll(() => dirs.forEach((d) => d.remove()));

describe('a node on a verify pool it does not own', () => {
  it('verifies on the shared pool and leaves it open when it closes: a co-hosted node goes on verifying', async () => {
    const shared = new SharedVerifier(new VerifyPool({ threads: 1, chunkSize: 4096 }), { cacheBatches: 16 });
    const [da, db] = [tempDir(), tempDir()];
    dirs.push(da, db);
    const a = await startNode(testConfig(da.path, 4, { node: { id: 'a' }, pipeline: { threads: 3 } }), { verifier: shared });
    const b = await startNode(testConfig(db.path, 4, { node: { id: 'b' }, pipeline: { threads: 3 } }), { verifier: shared });
    try {
      // The node reports the pool it verifies on (1 thread), not one of its own config's 3.
      expect(a.stats().pool.threads).toBe(1);
      const keys = devnetKeys(CHAIN, 4);
      const tx = (nonce: number) => generateTransfers({ chainId: CHAIN, senders: [keys[0]!], recipients: [keys[1]!.publicKey], count: 1, startNonces: [nonce] });
      expect((await a.submit(tx(1)))[0]).toMatchObject({ ok: true });
      await a.idle();
      await a.close();
      expect((await b.submit(tx(1)))[0]).toMatchObject({ ok: true });
      await b.idle();
      expect(b.getAccount(Buffer.from(keys[0]!.publicKey))?.nonce).toBe(1);
    } finally {
      await a.close();
      await b.close();
      await shared.close();
    }
  });
});
