import { describe, it, expect, afterAll } from 'vitest';
import { startNode, type RunningNode } from '../../src/node/node.js';
import { startValidators, waitFor, type InProcessCluster } from '../support/cluster.js';
import { devnetKeys } from '../support/fixtures.js';
import { signTransfer } from '../../src/tx/sign.js';

let cluster: InProcessCluster | undefined;
let restarted: RunningNode | undefined;
afterAll(async () => {
  await restarted?.close();
  await cluster?.close();
  cluster?.remove();
});

const committedHeight = (n: RunningNode): number => n.consensusStatus().consensusHeight ?? 0;

/**
 * A trickle of transfers to validators 0..2, one sender each: an idle cluster proposes nothing, so
 * blocks come only from work. Stops with the returned function.
 */
function trickle(nodes: () => RunningNode[], everyMs: number): () => void {
  const keys = devnetKeys(99, 8);
  const nonces = [1, 1, 1];
  const timer = setInterval(() => {
    for (let i = 0; i < 3; i++) {
      const k = keys[i]!;
      const tx = signTransfer({ chainId: 99, sender: k.publicKey, recipient: keys[7]!.publicKey, amount: 1, nonce: nonces[i]! }, k.seed);
      void nodes()
        [i]!.submit(tx)
        .then(
          (r) => {
            if (r[0]!.ok) nonces[i]!++;
          },
          () => undefined,
        );
    }
  }, everyMs);
  return () => clearInterval(timer);
}

/**
 * Real nodes, real LMDB, real TCP: a validator that stops while the others commit more blocks than
 * they keep in memory (retainCommitted 16, a trickle of transfers making blocks, 60 blocks while it is down) can only come back by
 * forward sync from its peers' consensus stores; backward sync alone left it stuck for good.
 */
describe('forward sync between real validators', () => {
  it('a validator further behind than its peers keep in memory catches up from their stores', async () => {
    cluster = await startValidators(4, 8, { consensus: { timeoutMs: 200, heartbeatMs: 20, retainCommitted: 16 } });
    const { nodes, configs } = cluster;
    const stop = trickle(() => cluster!.nodes, 25);
    await waitFor(() => nodes.every((n) => committedHeight(n) >= 5), 20_000, 'first commits');
    await nodes[3]!.close();
    const stoppedAt = committedHeight(nodes[0]!);
    await waitFor(() => committedHeight(nodes[0]!) >= stoppedAt + 60, 40_000, 'survivors 60 blocks further');
    restarted = await startNode(configs[3]!);
    cluster.nodes[3] = restarted;
    const target = committedHeight(nodes[0]!);
    await waitFor(() => committedHeight(restarted!) >= target, 30_000, `restarted validator at consensus height ${target}`);
    // And it takes part again: its committed chain keeps growing with the others'.
    const again = committedHeight(nodes[0]!) + 10;
    await waitFor(() => committedHeight(restarted!) >= again, 20_000, 'restarted validator keeps committing');
    stop();
    expect(restarted.consensusStatus().mode).toBe('hotstuff');
  }, 120_000);
});
