import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { HotledgerClient, Keypair } from '../../src/client/index.js';
import { startApi, type ApiHarness } from '../api/support/api.js';

/**
 * Two independent devnet nodes with the same genesis (same chain id and funded keys) stand in for
 * two business nodes of one topology. They do not share a chain, so "failover" here means: the
 * client spreads submissions over both, and while one is down every call (nonce read, submission,
 * outcome) goes to the other and succeeds there. On a shared chain the ledger would be the same.
 */
let a: ApiHarness;
let b: ApiHarness;
let aClosed = false;
beforeAll(async () => {
  [a, b] = await Promise.all([startApi({ overrides: { chain: { genesis: { devnetAccounts: 8 } } } }), startApi({ overrides: { chain: { genesis: { devnetAccounts: 8 } } } })]);
});
afterAll(async () => {
  await b?.close();
  if (!aClosed) await a?.close();
});

const kp = (i: number) => Keypair.fromSeed(a.tn.keys[i]!.seed);

describe('several endpoints', () => {
  test('submissions are spread over the endpoints', async () => {
    expect(b.tn.chainId).toBe(a.tn.chainId);
    const c = new HotledgerClient([a.base, b.base], { chainId: a.tn.chainId });
    const txs = await Promise.all([0, 1, 2, 3].map((i) => c.sign({ from: kp(i), to: kp(7).publicKey, amount: 1, nonce: 1 })));
    const answers = [];
    for (const tx of txs) answers.push(await c.submit(tx));
    expect(answers.map((x) => x.endpoint)).toEqual([a.base, b.base, a.base, b.base]);
    for (const x of answers) expect(x.accepted).toBe(1);
    // Each transaction lives on the node that took it.
    for (const [i, x] of answers.entries()) expect((await c.waitDurable(txs[i]!.id, x.endpoint)).status).toBe('committed');
  });

  test('with one node closed, transfers and queries fail over to the other and commit there', async () => {
    const c = new HotledgerClient([a.base, b.base], { chainId: a.tn.chainId, requestTimeoutMs: 2000 });
    await a.close();
    aClosed = true;
    const sender = kp(5);
    const ds = [];
    for (let i = 0; i < 4; i++) ds.push(await c.transfer({ from: sender, to: kp(6).publicKey, amount: 2 }));
    for (const d of ds) expect(d.height).toBeGreaterThanOrEqual(1);
    const onB = new HotledgerClient(b.base);
    expect((await onB.account(sender.publicKey))!.nonce).toBe(4);
    for (const d of ds) expect(await onB.transaction(d.id)).toMatchObject({ status: 'committed', height: d.height });
    expect((await c.account(sender.publicKey))!.nonce).toBe(4);
    c.close();
    onB.close();
  });
});
