import { describe, it, expect, afterAll } from 'vitest';
import { generateTransfers } from '../../src/workload/generate.js';
import { txId } from '../../src/tx/codec.js';
import { TX_SIZE } from '../../src/tx/layout.js';
import { devnetKeys } from '../support/fixtures.js';
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
    parts.forEach((txs, i) => expect(nodes[i]!.submit(txs).every((r) => r.ok)).toBe(true));
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
});
