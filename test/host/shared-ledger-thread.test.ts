import { afterAll, describe, expect, it } from 'vitest';
import { startNode } from '../../src/node/node.js';
import { LedgerThread } from '../../src/pipeline/ledger-thread.js';
import { generateTransfers } from '../../src/workload/generate.js';
import { devnetKeys, tempDir, testConfig } from '../support/fixtures.js';

const CHAIN = 99; // test profile chain id
const dirs: { remove(): void }[] = [];
afterAll(() => dirs.forEach((d) => d.remove()));

describe('nodes on a ledger thread they do not own', () => {
  it('keep their own chains on one thread; one closing leaves the other writing; a restart on the thread resumes the chain', async () => {
    const thread = new LedgerThread();
    const [da, db] = [tempDir(), tempDir()];
    dirs.push(da, db);
    const cfg = (d: string, id: string) => testConfig(d, 4, { node: { id }, pipeline: { threads: 1 } });
    let a = await startNode(cfg(da.path, 'a'), { ledgerThread: thread });
    const b = await startNode(cfg(db.path, 'b'), { ledgerThread: thread });
    try {
      expect(thread.ledgerCount).toBe(2);
      const keys = devnetKeys(CHAIN, 4);
      const tx = (from: number, nonce: number) => generateTransfers({ chainId: CHAIN, senders: [keys[from]!], recipients: [keys[3]!.publicKey], count: 1, startNonces: [nonce] });
      // Different transactions on each: the two ledgers must not see each other's blocks.
      expect((await a.submit(tx(0, 1)))[0]).toMatchObject({ ok: true });
      expect((await b.submit(tx(1, 1)))[0]).toMatchObject({ ok: true });
      await Promise.all([a.idle(), b.idle()]);
      expect(a.getAccount(Buffer.from(keys[0]!.publicKey))?.nonce).toBe(1);
      expect(a.getAccount(Buffer.from(keys[1]!.publicKey))?.nonce).toBe(0);
      expect(b.getAccount(Buffer.from(keys[1]!.publicKey))?.nonce).toBe(1);
      expect(b.getAccount(Buffer.from(keys[0]!.publicKey))?.nonce).toBe(0);
      const tipA = a.getBlock('latest')!;
      await a.close();
      expect(thread.ledgerCount).toBe(1);
      expect((await b.submit(tx(1, 2)))[0]).toMatchObject({ ok: true });
      await b.idle();
      expect(b.getAccount(Buffer.from(keys[1]!.publicKey))?.nonce).toBe(2);
      // Reopened on the same thread: the chain and state come back from its data dir.
      a = await startNode(cfg(da.path, 'a'), { ledgerThread: thread });
      expect(a.getBlock('latest')).toEqual(tipA);
      expect((await a.submit(tx(0, 2)))[0]).toMatchObject({ ok: true });
      await a.idle();
      expect(a.getBlock('latest')!.height).toBe(tipA.height + 1);
    } finally {
      await a.close();
      await b.close();
      await thread.close();
    }
  });
});
