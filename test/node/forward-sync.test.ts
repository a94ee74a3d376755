import { describe, it, expect, afterAll } from 'vitest';
import { startNode, type RunningNode } from '../../src/node/node.js';
import { startValidators, waitFor, type InProcessCluster } from '../support/cluster.js';

let cluster: InProcessCluster | undefined;
let restarted: RunningNode | undefined;
afterAll(async () => {
  await restarted?.close();
  await cluster?.close();
  cluster?.remove();
});

const committedHeight = (n: RunningNode): number => n.consensusStatus().consensusHeight ?? 0;

/**
 * Real nodes, real LMDB, real TCP: a validator that stops while the others commit more blocks than
 * they keep in memory (retainCommitted 16, a heartbeat block every 20 ms, 60 blocks while it is down) can only come back by
 * forward sync from its peers' consensus stores; backward sync alone left it stuck for good.
 */
describe('forward sync between real validators', () => {
  it('a validator further behind than its peers keep in memory catches up from their stores', async () => {
    cluster = await startValidators(4, 8, { consensus: { timeoutMs: 200, heartbeatMs: 20, retainCommitted: 16 } });
    const { nodes, configs } = cluster;
    await waitFor(() => nodes.every((n) => committedHeight(n) >= 5), 20_000, 'first commits');
    await nodes[3]!.close();
    const stoppedAt = committedHeight(nodes[0]!);
    await waitFor(() => committedHeight(nodes[0]!) >= stoppedAt + 60, 40_000, "survivors 60 blocks further");
    restarted = await startNode(configs[3]!);
    cluster.nodes[3] = restarted;
    const target = committedHeight(nodes[0]!);
    await waitFor(() => committedHeight(restarted!) >= target, 30_000, `restarted validator at consensus height ${target}`);
    // And it takes part again: its committed chain keeps growing with the others'.
    const again = committedHeight(nodes[0]!) + 10;
    await waitFor(() => committedHeight(restarted!) >= again, 20_000, 'restarted validator keeps committing');
    expect(restarted.consensusStatus().mode).toBe("hotstuff");
  }, 120_000);
});
