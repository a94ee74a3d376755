import { describe, it, expect, afterAll } from 'vitest';
import { Ledger } from '../../src/execution/ledger.js';
import { replayChain } from '../../src/execution/replay.js';
import { generateTransfers } from '../../src/workload/generate.js';
import { txId } from '../../src/tx/codec.js';
import { verifyTransactions } from '../../src/tx/verify.js';
import { Off, TX_ID_SIZE, TX_SIZE } from '../../src/tx/layout.js';
import { RejectCode } from '../../src/errors.js';
import { devnetKeys, tempDir } from '../support/fixtures.js';

const CHAIN = 11;
const dirs: { remove(): void }[] = [];
afterAll(() => dirs.forEach((d) => d.remove()));

describe('Ledger with shard workers', () => {
  it('executes on 3 shard workers exactly as a sequential replay of the stored chain', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const keys = devnetKeys(CHAIN, 30);
    // 20 funded senders with 3,000 each spend ~7,350 over 150 txs: late txs overdraw.
    const genesis = keys.map((k, i) => ({ publicKey: Buffer.from(k.publicKey), balance: i < 20 ? 3_000 : 0 }));
    const ledger = await Ledger.open({ path: dir.path, mapSizeMb: 256, cacheSizeMb: 1, chainId: CHAIN, shards: 3, genesis });
    const txs = generateTransfers({ chainId: CHAIN, senders: keys.slice(0, 20), recipients: keys.map((k) => k.publicKey), count: 3_000 });
    for (let i = 2_500; i < 3_000; i += 50) txs[i * TX_SIZE + Off.SIGNATURE]! ^= 1;
    const seen = new Set<number>();
    const durables: Promise<void>[] = [];
    for (let b = 0; b < 3; b++) {
      const slice = Buffer.from(txs.subarray(b * 1_000 * TX_SIZE, (b + 1) * 1_000 * TX_SIZE));
      const ids = Buffer.alloc(1_000 * TX_ID_SIZE);
      for (let i = 0; i < 1_000; i++) txId(slice, i * TX_SIZE).copy(ids, i * TX_ID_SIZE);
      const applied = await ledger.apply({ txs: slice, count: 1_000, verified: verifyTransactions(slice, 1_000), ids, timestamp: b, round: b + 1 });
      applied.statuses.forEach((s) => seen.add(s));
      durables.push(applied.durable);
    }
    await Promise.all(durables);
    expect([...seen].sort((a, b) => a - b)).toEqual(expect.arrayContaining([0, RejectCode.BAD_SIGNATURE, RejectCode.INSUFFICIENT_FUNDS]));
    const report = replayChain(ledger.store, CHAIN, genesis, 1);
    expect(report.problems).toEqual([]);
    expect(report.stateRoot.equals(ledger.tip.stateRoot)).toBe(true);
    await ledger.close();
  });
});
