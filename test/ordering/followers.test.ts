import { describe, it, expect, afterAll } from 'vitest';
import { generateTransfers } from '../../src/workload/generate.js';
import { txId } from '../../src/tx/codec.js';
import { TX_SIZE } from '../../src/tx/layout.js';
import { HotledgerError } from '../../src/errors.js';
import { devnetKeys } from '../support/fixtures.js';
import { startValidators, waitFor, type InProcessCluster } from '../support/cluster.js';

const CHAIN = 99;
let cluster: InProcessCluster | undefined;
afterAll(async () => {
  await cluster?.close();
  cluster?.remove();
});

const ready = (n: { health(): { ready: { status: string }[] } }) => n.health().ready.every((c) => c.status === 'UP');

describe('4 validators, a business node and a slim node over loopback TCP', () => {
  it('a transfer submitted to the business node commits on every node with one state root per height', async () => {
    cluster = await startValidators(4, 20, {}, ['business', 'slim']);
    const { nodes } = cluster;
    const [business, slim] = [nodes[4]!, nodes[5]!];
    await waitFor(() => nodes.every(ready), 20_000, 'all nodes ready');
    expect(business.info().role).toBe('business');
    expect(business.consensusStatus().mode).toBe('follower');
    const keys = devnetKeys(CHAIN, 20);
    const viaBusiness = generateTransfers({ chainId: CHAIN, senders: keys.slice(0, 5), recipients: keys.map((k) => k.publicKey), count: 300 });
    const viaValidator = generateTransfers({ chainId: CHAIN, senders: keys.slice(5, 10), recipients: keys.map((k) => k.publicKey), count: 300 });
    expect((await business.submit(viaBusiness)).every((r) => r.ok)).toBe(true);
    expect((await nodes[1]!.submit(viaValidator)).every((r) => r.ok)).toBe(true);
    await waitFor(() => nodes.every((n) => n.stats().committedTxs === 600), 30_000, 'every tx committed on every node');
    // The same chain everywhere: every height's hash and state root agree with validator 0's.
    const tip = nodes[0]!.getBlock('latest')!.height;
    for (const n of nodes) expect(n.getBlock('latest')!.height).toBe(tip);
    for (let h = 1; h <= tip; h++) {
      const want = nodes[0]!.getBlock(h)!;
      for (const n of nodes) {
        expect(n.getBlock(h)!.hash).toBe(want.hash);
        expect(n.getBlock(h)!.stateRoot).toBe(want.stateRoot);
      }
    }
    // The business node's own submissions and the validator's are final on the slim node too.
    expect(slim.getTransaction(txId(viaBusiness, 7 * TX_SIZE))?.status).toBe('committed');
    expect(business.getTransaction(txId(viaValidator, 9 * TX_SIZE))?.status).toBe('committed');
  }, 60_000);

  it('a slim node refuses submissions with ROLE_READ_ONLY, naming its role', async () => {
    const slim = cluster!.nodes[5]!;
    const keys = devnetKeys(CHAIN, 20);
    const txs = generateTransfers({ chainId: CHAIN, senders: keys.slice(10, 11), recipients: [keys[0]!.publicKey], count: 1 });
    const e = await slim.submit(txs).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(HotledgerError);
    expect((e as HotledgerError).code).toBe('ROLE_READ_ONLY');
    expect((e as HotledgerError).message).toContain('slim');
  });
});
