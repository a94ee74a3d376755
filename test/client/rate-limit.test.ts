import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ClientError, HotledgerClient, Keypair } from '../../src/client/index.js';
import { startApi, type ApiHarness } from '../api/support/api.js';
import { closeAgents, metric } from '../api/support/client.js';

/** A real node whose per-client request budget is tiny: 3 requests per second, burst 3. */
let h: ApiHarness;
beforeAll(async () => {
  h = await startApi({ overrides: { chain: { genesis: { devnetAccounts: 4 } }, api: { rateLimitPerSec: 3, rateLimitBurst: 3 } } });
});
afterAll(async () => {
  closeAgents();
  await h?.close();
});

const kp = (i: number) => Keypair.fromSeed(h.tn.keys[i]!.seed);
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('429 Retry-After', () => {
  test('without retries a 429 is a typed, retry-safe RATE_LIMITED error carrying Retry-After', async () => {
    await pause(1100); // a full bucket
    const c = new HotledgerClient(h.base, { chainId: h.tn.chainId, maxRetries: 0 });
    const errors: unknown[] = [];
    for (let i = 0; i < 6; i++) await c.account(kp(0).publicKey).catch((e: unknown) => errors.push(e));
    expect(errors.length).toBeGreaterThanOrEqual(2);
    const e = errors[0] as ClientError;
    expect(e).toBeInstanceOf(ClientError);
    expect(e).toMatchObject({ code: 'RATE_LIMITED', status: 429, retrySafe: true, retryAfterMs: 1000 });
  });

  test('the back-off is bounded by maxBackoffMs whatever Retry-After says, then it gives up typed', async () => {
    // A node of its own with one request per second: its bucket stays empty for the whole
    // measured call (with 3/s, a loaded machine refilled it between the drain and the call).
    const slow = await startApi({ overrides: { chain: { genesis: { devnetAccounts: 1 } }, api: { rateLimitPerSec: 1, rateLimitBurst: 1 } } });
    try {
      const c = new HotledgerClient(slow.base, { chainId: slow.tn.chainId, maxRetries: 2, maxBackoffMs: 40 });
      const drain = new HotledgerClient(slow.base, { chainId: slow.tn.chainId, maxRetries: 0 });
      let refused = false;
      for (let i = 0; i < 5 && !refused; i++)
        refused = await drain.account(kp(0).publicKey).then(
          () => false,
          (x: unknown) => (x as ClientError).code === 'RATE_LIMITED',
        );
      expect(refused).toBe(true);
      const t0 = performance.now();
      const e = await c.account(kp(0).publicKey).catch((x: unknown) => x);
      const ms = performance.now() - t0;
      expect(e).toMatchObject({ code: 'RATE_LIMITED', retrySafe: true, retryAfterMs: 1000 });
      expect(ms).toBeLessThan(600); // two waits of ≤ 44 ms, not two Retry-After seconds
    } finally {
      await slow.close();
    }
  });

  test('a storm of concurrent transfers through a 3 req/s budget: every one honours Retry-After and commits', async () => {
    const limitedBefore = await metric(h.server.port, 'hotledger_api_limited_total');
    const c = new HotledgerClient(h.base, { chainId: h.tn.chainId, maxRetries: 30, durableTimeoutMs: 60_000 });
    const t0 = performance.now();
    const all = await Promise.all(Array.from({ length: 12 }, (_, i) => c.transfer({ from: kp(1 + (i % 3)), to: kp(0).publicKey, amount: 1 })));
    const ms = performance.now() - t0;
    c.close();
    expect(new Set(all.map((d) => d.id)).size).toBe(12);
    for (const d of all) expect(d.height).toBeGreaterThanOrEqual(1);
    for (let i = 1; i <= 3; i++) expect((await new HotledgerClient(h.base, { maxRetries: 30 }).account(kp(i).publicKey))!.nonce).toBe(4);
    // The node did refuse: the client waited instead of failing.
    expect(await metric(h.server.port, 'hotledger_api_limited_total')).toBeGreaterThan(limitedBefore);
    expect(ms).toBeGreaterThan(1000);
  }, 90_000);
});
