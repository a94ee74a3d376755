import { describe, it, expect, afterAll } from 'vitest';
import { generateTransfers } from '../../src/workload/generate.js';
import { txId } from '../../src/tx/codec.js';
import { TX_SIZE } from '../../src/tx/layout.js';
import { devnetKeys } from '../support/fixtures.js';
import { signTransfer } from '../../src/tx/sign.js';
import { LedgerStore } from '../../src/storage/ledger-store.js';
import { rejectName } from '../../src/errors.js';
import type { RunningNode } from '../../src/node/node.js';
import { startValidators, waitFor, type InProcessCluster } from '../support/cluster.js';

const CHAIN = 99;
let cluster: InProcessCluster | undefined;
afterAll(async () => {
  await cluster?.close();
  cluster?.remove();
});

describe('4 validators in one process, over loopback TCP', () => {
  it('orders batches submitted to different validators into one chain with one state root', async () => {
    cluster = await startValidators(4, 20);
    const { nodes } = cluster;
    await waitFor(() => nodes.every((n) => n.health().ready.every((c) => c.status === 'UP')), 15_000, 'all validators ready');
    const keys = devnetKeys(CHAIN, 20);
    // Disjoint senders per validator so nonces never collide across mempools.
    const parts = nodes.map((_, i) => generateTransfers({ chainId: CHAIN, senders: keys.slice(i * 5, i * 5 + 5), recipients: keys.map((k) => k.publicKey), count: 200 }));
    for (const [i, txs] of parts.entries()) expect((await nodes[i]!.submit(txs)).every((r) => r.ok)).toBe(true);
    const total = parts.length * 200;
    await waitFor(() => nodes.every((n) => n.stats().committedTxs === total), 30_000, 'every tx committed on every validator');
    const tips = nodes.map((n) => n.getBlock('latest')!);
    for (const t of tips) {
      expect(t.stateRoot).toBe(tips[0]!.stateRoot);
      expect(t.hash).toBe(tips[0]!.hash);
    }
    // Every validator can answer for a tx that was submitted elsewhere.
    const id = txId(parts[3]!, 10 * TX_SIZE);
    for (const n of nodes) expect(n.getTransaction(id)?.status).toBe('committed');
    const status = nodes[0]!.consensusStatus();
    expect(status.mode).toBe('hotstuff');
    expect(status.highQc?.votes).toBeGreaterThanOrEqual(3);
    expect(status.round).toBeGreaterThan(1);
  });

  it('commits a transaction submitted to two validators once, and never overwrites its record', async () => {
    const { nodes } = cluster!;
    const keys = devnetKeys(CHAIN, 20);
    const sender = keys[19]!;
    const recipient = keys[18]!;
    const before = nodes[0]!.getAccount(Buffer.from(sender.publicKey))!;
    const tx = signTransfer({ chainId: CHAIN, sender: sender.publicKey, recipient: recipient.publicKey, amount: 7, nonce: before.nonce + 1 }, sender.seed);
    const id = txId(tx);
    // Both copies admitted (each validator's own mempool), each beside another sender's transfer so
    // the two batches differ (a batch's digest covers its ids: two one-tx batches would be one).
    const other = (k: number) => {
      const from = keys[k]!;
      const nonce = nodes[0]!.getAccount(Buffer.from(from.publicKey))!.nonce + 1;
      return signTransfer({ chainId: CHAIN, sender: from.publicKey, recipient: recipient.publicKey, amount: 1, nonce }, from.seed);
    };
    const [a, b] = await Promise.all([nodes[0]!.submit(Buffer.concat([tx, other(16)])), nodes[1]!.submit(Buffer.concat([tx, other(17)]))]);
    expect(a.every((r) => r.ok) && b.every((r) => r.ok)).toBe(true);
    // A validator's mempool entry leaves only when its own batch is applied: both copies are in blocks.
    await waitFor(() => nodes.every((n) => n.getTransaction(id)?.status === 'committed' && n.stats().mempool.size === 0), 20_000, 'both copies ordered');
    const target = Math.max(...nodes.map((n) => n.stats().height));
    await waitFor(() => nodes.every((n) => n.stats().height >= target), 20_000, 'every validator at the same height');
    const first = nodes[0]!.getTransaction(id);
    for (const n of nodes) {
      expect(n.getTransaction(id)).toEqual(first);
      expect(n.getAccount(Buffer.from(sender.publicKey))).toMatchObject({ nonce: before.nonce + 1, balance: before.balance - 7 });
    }
    // Every block holding a copy: exactly one committed, any other copy DUPLICATE.
    const outcomes: string[] = [];
    const events = await blockStatusesOf(nodes[0]!, id, target);
    outcomes.push(...events);
    expect(outcomes.filter((o) => o === 'committed')).toHaveLength(1);
    expect(outcomes.every((o) => o === 'committed' || o === 'DUPLICATE')).toBe(true);
    // Once final, it cannot be admitted again.
    const again = await nodes[2]!.submit(tx);
    expect(again[0]).toMatchObject({ ok: false, code: 'NONCE_TOO_LOW' });
  });
});

/** The outcome of every copy of `id` in blocks 1..tip, read from the node's own store. */
async function blockStatusesOf(node: RunningNode, id: Buffer, tip: number): Promise<string[]> {
  const store = new LedgerStore({ path: node.config.node.dataDir, mapSizeMb: node.config.storage.mapSizeMb });
  try {
    const out: string[] = [];
    for (let h = 1; h <= tip; h++) {
      const payload = store.getPayload(h);
      const results = store.getResults(h);
      if (!payload || !results) continue;
      for (let i = 0; i < payload.length / TX_SIZE; i++) {
        if (txId(payload, i * TX_SIZE).equals(id)) out.push(results[i] === 0 ? 'committed' : rejectName(results[i]!));
      }
    }
    return out;
  } finally {
    await store.close();
  }
}
