import { describe, it, expect, afterAll } from 'vitest';
import { generateTransfers } from '../../src/workload/generate.js';
import { txId } from '../../src/tx/codec.js';
import { TX_SIZE } from '../../src/tx/layout.js';
import { HotledgerError } from '../../src/errors.js';
import { startNode } from '../../src/node/node.js';
import { pino } from 'pino';
import { startApiServer } from '../../src/api/server.js';
import { HotledgerClient, Keypair } from '../../src/client/index.js';
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

  it('a business node sends its batch again when no validator got it, and it commits', async () => {
    const business = cluster!.nodes[4]!;
    const transport = (business as unknown as { consensus: { transport: { broadcast: (m: unknown, only?: unknown) => number } } }).consensus.transport;
    const real = transport.broadcast.bind(transport);
    let dropped = 0;
    // The link eats the node's next batch: every validator misses it (as if each refused it as full).
    transport.broadcast = (m: unknown, only?: unknown) => {
      if (dropped === 0 && (m as { k?: string }).k === 'b') {
        dropped++;
        return 0;
      }
      return real(m, only);
    };
    try {
      const keys = devnetKeys(CHAIN, 20);
      const txs = generateTransfers({ chainId: CHAIN, senders: keys.slice(13, 14), recipients: [keys[0]!.publicKey], count: 1 });
      expect((await business.submit(txs)).every((r) => r.ok)).toBe(true);
      await waitFor(() => dropped === 1, 5_000, 'the batch dropped on its way out');
      await waitFor(() => cluster!.nodes.every((n) => n.getTransaction(txId(txs, 0))?.status === 'committed'), 20_000, 'the dropped batch committed on every node');
    } finally {
      transport.broadcast = real;
    }
  }, 30_000);

  it('over HTTP: 403 ROLE_READ_ONLY from the slim node, and a client given both nodes submits through the business node', async () => {
    const [business, slim] = [cluster!.nodes[4]!, cluster!.nodes[5]!];
    const servers = await Promise.all([slim, business].map((n) => startApiServer(n, { ...n.config.api, port: 0 }, pino({ level: 'silent' }))));
    try {
      const [slimUrl, businessUrl] = servers.map((s) => `http://127.0.0.1:${s.port}`);
      const keys = devnetKeys(CHAIN, 20);
      const raw = generateTransfers({ chainId: CHAIN, senders: keys.slice(11, 12), recipients: [keys[0]!.publicKey], count: 1 });
      const r = await fetch(`${slimUrl}/api/v11/transactions`, { method: 'POST', body: raw, headers: { 'content-type': 'application/octet-stream' } });
      expect(r.status).toBe(403);
      expect(((await r.json()) as { error: { code: string } }).error.code).toBe('ROLE_READ_ONLY');
      const client = new HotledgerClient([slimUrl!, businessUrl!], { chainId: CHAIN });
      const from = Keypair.fromSeed(keys[12]!.seed);
      // Endpoints take turns: of two submissions one starts at the slim node and must move on.
      const txs = await Promise.all([1, 2].map((nonce) => client.sign({ from, to: keys[0]!.publicKey, amount: 3, nonce })));
      for (const tx of txs) {
        const a = await client.submit(tx);
        expect(a.accepted).toBe(1);
        expect(a.endpoint).toBe(businessUrl);
      }
      // Final on the slim node too: it follows the chain the business node's batch went into.
      for (const tx of txs) await waitFor(() => slim.getTransaction(Buffer.from(tx.id, 'hex'))?.status === 'committed', 10_000, 'transfer final on the slim node');
      client.close();
    } finally {
      await Promise.all(servers.map((s) => s.close()));
    }
  });
});

describe('a slim node that was down catches up from its durable root', () => {
  let c: InProcessCluster | undefined;
  afterAll(async () => {
    await c?.close();
    c?.remove();
  });

  it('restarts more than one catch-up chunk behind and reaches the same hashes and state roots', async () => {
    c = await startValidators(4, 40, {}, ['slim']);
    const nodes = [...c.nodes];
    await waitFor(() => nodes.every(ready), 20_000, 'all nodes ready');
    const keys = devnetKeys(CHAIN, 40);
    const send = async (round: number) => {
      const txs = generateTransfers({
        chainId: CHAIN,
        // Senders 0..38 in turn: key 39 is the recipient, and sending to itself is refused.
        senders: keys.slice(round % 39, (round % 39) + 1),
        recipients: [keys[39]!.publicKey],
        count: 1,
        startNonces: [1 + Math.floor(round / 39)],
      });
      expect((await nodes[round % 4]!.submit(txs)).every((r) => r.ok)).toBe(true);
      await waitFor(() => nodes[0]!.stats().committedTxs === round + 1, 10_000, `tx ${round} committed`);
    };
    await send(0);
    await waitFor(() => nodes[4]!.stats().committedTxs === 1, 10_000, 'slim node follows');
    await nodes[4]!.close();
    // Every commit is at least one consensus height: more than FOLLOW_CHUNK (64) heights pass while it is down.
    let round = 1;
    while (nodes[0]!.consensusStatus().consensusHeight! < 90) await send(round++);
    nodes[4] = await startNode(c.configs[4]!);
    c.nodes[4] = nodes[4]!;
    await waitFor(() => nodes[4]!.stats().height === nodes[0]!.stats().height && nodes[4]!.getBlock('latest') !== undefined, 30_000, 'slim node caught up');
    const tip = nodes[0]!.getBlock('latest')!.height;
    for (let h = 1; h <= tip; h++) {
      expect(nodes[4]!.getBlock(h)!.hash).toBe(nodes[0]!.getBlock(h)!.hash);
      expect(nodes[4]!.getBlock(h)!.stateRoot).toBe(nodes[0]!.getBlock(h)!.stateRoot);
    }
    expect(nodes[4]!.consensusStatus().consensusHeight).toBeGreaterThanOrEqual(90);
  }, 120_000);
});

describe('one sender through two business nodes, in turn', () => {
  let c: InProcessCluster | undefined;
  afterAll(async () => {
    await c?.close();
    c?.remove();
  });

  it('each transfer goes to the other node as soon as the previous one is final: all commit', async () => {
    c = await startValidators(4, 8, {}, ['business', 'business']);
    const nodes = c.nodes;
    await waitFor(() => nodes.every(ready), 20_000, 'all nodes ready');
    const [b0, b1] = [nodes[4]!, nodes[5]!];
    const keys = devnetKeys(CHAIN, 8);
    // The next nonce reaches a node whose ledger may not have the previous one's block yet: it
    // waits as a future nonce until that node applies the block with the previous one.
    for (let nonce = 1; nonce <= 24; nonce++) {
      const at = nonce % 2 === 0 ? b0 : b1;
      const txs = generateTransfers({ chainId: CHAIN, senders: [keys[0]!], recipients: [keys[1]!.publicKey], count: 1, startNonces: [nonce] });
      expect((await at.submit(txs)).every((r) => r.ok)).toBe(true);
      await waitFor(() => at.getTransaction(txId(txs, 0))?.status === 'committed', 15_000, `nonce ${nonce} final on the node it went to`);
    }
    await waitFor(() => nodes.every((n) => n.getAccount(Buffer.from(keys[0]!.publicKey))?.nonce === 24), 15_000, 'nonce 24 everywhere');
  }, 120_000);
});
