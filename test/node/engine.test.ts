import { describe, it, expect, afterAll } from 'vitest';
import { startNode } from '../../src/node/node.js';
import { generateTransfers } from '../../src/workload/generate.js';
import { replayChain } from '../../src/execution/replay.js';
import { genesisAccounts } from '../../src/chain/genesis.js';
import { LedgerStore } from '../../src/storage/ledger-store.js';
import { Off, TX_SIZE } from '../../src/tx/layout.js';
import { txId } from '../../src/tx/codec.js';
import type { CommittedBlockEvent } from '../../src/node/node-api.js';
import { devnetKeys, tempDir, testConfig } from '../support/fixtures.js';

const dirs: { remove(): void }[] = [];
afterAll(() => dirs.forEach((d) => d.remove()));

const ACCOUNTS = 50;
const CHAIN = 99; // test profile chain id

/**
 * 6,000 signed transfers from 40 senders (5,000 units each) to 10 other accounts: each sender spends ~7,300 over
 * 150 txs, so late txs overdraw (and the sender's later nonces then fail); some signatures are
 * corrupted. Blocks therefore mix committed and rejected transactions.
 */
const BALANCE = 5_000;
function mixedWorkload(): Buffer {
  const keys = devnetKeys(CHAIN, ACCOUNTS);
  const txs = generateTransfers({ chainId: CHAIN, senders: keys.slice(0, 40), recipients: keys.slice(40).map((k) => k.publicKey), count: 6_000 });
  // Corrupted signatures near the end, after the overdrafts (a failed tx breaks its sender's later nonces).
  for (const i of corrupted) txs[i * TX_SIZE + Off.SIGNATURE + 5]! ^= 0x40;
  return txs;
}
const corrupted = Array.from({ length: 58 }, (_, k) => 5_600 + 7 * k).filter((i) => i < 6_000);

async function runWorkload(threads: number, txs: Buffer) {
  const dir = tempDir();
  dirs.push(dir);
  const cfg = testConfig(dir.path, ACCOUNTS, { pipeline: { threads, batchSize: 1_000 }, chain: { genesis: { devnetBalance: BALANCE } } });
  const node = await startNode(cfg);
  const events: CommittedBlockEvent[] = [];
  node.onBlock((e) => events.push(e));
  const admitted = await node.submit(txs);
  // Corrupted signatures are refused at admission; everything else enters the mempool.
  expect(admitted.map((r, i) => (r.ok ? 'ok' : `${i}:${r.code}`)).filter((x) => x !== 'ok')).toEqual(corrupted.map((i) => `${i}:BAD_SIGNATURE`));
  await node.idle();
  const statuses = Array.from({ length: txs.length / TX_SIZE }, (_, i) => node.getTransaction(txId(txs, i * TX_SIZE)));
  const accounts = devnetKeys(CHAIN, ACCOUNTS).map((k) => node.getAccount(Buffer.from(k.publicKey)));
  const latest = node.getBlock('latest')!;
  await node.close();
  return { latest, statuses, accounts, events, dir: dir.path, cfg };
}

describe('engine through real threads and LMDB', () => {
  const txs = mixedWorkload();
  const runs: Awaited<ReturnType<typeof runWorkload>>[] = [];

  it('commits the same blocks, statuses, balances and state root at 1, 2 and 4 threads', async () => {
    for (const threads of [1, 2, 4]) runs.push(await runWorkload(threads, txs));
    const [one, ...rest] = runs;
    for (const r of rest) {
      expect(r.latest.stateRoot).toBe(one!.latest.stateRoot);
      expect(r.latest.height).toBe(one!.latest.height);
      expect(r.accounts).toEqual(one!.accounts);
      expect(r.statuses).toEqual(one!.statuses);
    }
    expect(one!.latest.height).toBe(6);
    const rejected = one!.statuses.filter((s) => s?.status === 'rejected');
    const codes = new Set(rejected.map((s) => (s as { code: string }).code));
    // A forged signature never reaches a block or the tx index.
    expect(codes).not.toContain('BAD_SIGNATURE');
    for (const i of corrupted) expect(one!.statuses[i]).toBeUndefined();
    expect(codes).toContain('INSUFFICIENT_FUNDS');
    expect(codes).toContain('NONCE_MISMATCH');
    expect(one!.statuses.filter((s) => s?.status === 'committed').length).toBeGreaterThan(1_000);
    const supply = one!.accounts.reduce((sum, a) => sum + (a?.balance ?? 0), 0);
    expect(supply).toBe(ACCOUNTS * BALANCE);
  });

  it('reports every durable block once, in height order, with ids and statuses', () => {
    const ev = runs[0]!.events;
    expect(ev.map((e) => e.block.height)).toEqual([1, 2, 3, 4, 5, 6]);
    // Every transaction that reached a block, and nothing else (refused or still waiting behind a gap).
    const inBlocks = runs[0]!.statuses.filter((s) => s?.status === 'committed' || (s?.status === 'rejected' && s.height !== undefined)).length;
    expect(inBlocks).toBeGreaterThan(5_000);
    expect(ev.reduce((s, e) => s + e.statuses.length, 0)).toBe(inBlocks);
    expect(ev[0]!.txIds.subarray(0, 32).equals(txId(txs, 0))).toBe(true);
  });

  it('stores a chain whose replay from genesis gives the same state root, statuses and accounts', () => {
    const r = runs[1]!;
    const store = new LedgerStore({ path: r.dir, mapSizeMb: 1024 });
    try {
      const report = replayChain(store, CHAIN, genesisAccounts(r.cfg), 3);
      expect(report.problems).toEqual([]);
      expect(report.height).toBe(6);
      expect(report.stateRoot.toString('hex')).toBe(r.latest.stateRoot);
    } finally {
      void store.close();
    }
  });

  it('restarts at the same tip and refuses every stored transaction again', async () => {
    const r = runs[2]!;
    const node = await startNode(r.cfg);
    try {
      expect(node.getBlock('latest')).toEqual(r.latest);
      // Ten committed and ten rejected-in-a-block transactions of the workload.
      const committed = r.statuses.flatMap((s, i) => (s?.status === 'committed' ? [i] : [])).slice(0, 10);
      const rejected = r.statuses.flatMap((s, i) => (s?.status === 'rejected' && s.height !== undefined ? [i] : [])).slice(-10);
      expect(rejected.length).toBe(10);
      const pick = [...committed, ...rejected];
      const again = await node.submit(Buffer.concat(pick.map((i) => txs.subarray(i * TX_SIZE, (i + 1) * TX_SIZE))));
      // A committed tx is a nonce replay; a rejected one (its nonce unused) is a known id.
      const expected = pick.map((i) => (r.statuses[i]?.status === 'committed' ? 'NONCE_TOO_LOW' : 'DUPLICATE'));
      expect(expected).toContain('DUPLICATE');
      expect(again.map((x) => (x.ok ? 'ok' : x.code))).toEqual(expected);
    } finally {
      await node.close();
    }
  });

  it('rejects garbage with typed codes and keeps committing valid transactions', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const node = await startNode(testConfig(dir.path, 4));
    try {
      const garbage = Buffer.alloc(TX_SIZE * 3, 0xab);
      const res = await node.submit(garbage);
      expect(res.every((x) => !x.ok)).toBe(true);
      expect(res.map((x) => (x.ok ? '' : x.code))).toEqual(Array(3).fill('UNSUPPORTED_VERSION'));
      const keys = devnetKeys(CHAIN, 4);
      const good = generateTransfers({ chainId: CHAIN, senders: keys.slice(0, 2), recipients: keys.map((k) => k.publicKey), count: 20 });
      expect((await node.submit(good)).every((x) => x.ok)).toBe(true);
      await node.idle();
      expect(node.stats().committedTxs).toBe(20);
      expect(node.getAccount(Buffer.from(keys[0]!.publicKey))?.nonce).toBe(10);
    } finally {
      await node.close();
    }
  });

  it('closes right after a submission without waiting out the shutdown timeout', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const node = await startNode(testConfig(dir.path, 4));
    const keys = devnetKeys(CHAIN, 4);
    const txs = generateTransfers({ chainId: CHAIN, senders: keys.slice(0, 2), recipients: keys.map((k) => k.publicKey), count: 200 });
    expect((await node.submit(txs)).every((x) => x.ok)).toBe(true);
    const t0 = performance.now();
    await node.close();
    // Sealed batches become durable; ready ones are dropped. It used to wait the whole 10 s for
    // ready transactions that a stopped pipeline would never seal.
    expect(performance.now() - t0).toBeLessThan(5_000);
  });
});
