import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { HotledgerClient, Keypair } from '../../src/client/index.js';
import { startApi, type ApiHarness } from '../api/support/api.js';

/**
 * The client reaches the node through a TCP relay on loopback; cutting every relayed connection
 * drops the client's watch WebSocket mid-life, as a network blip or a proxy restart would.
 */
let h: ApiHarness;
let relay: Server;
const live = new Set<Socket>();
beforeAll(async () => {
  h = await startApi();
  relay = createServer((down) => {
    const up = connect(h.server.port, '127.0.0.1');
    for (const s of [down, up]) {
      live.add(s);
      s.on('close', () => live.delete(s));
      s.on('error', () => undefined);
    }
    down.pipe(up);
    up.pipe(down);
  });
  await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
});
afterAll(async () => {
  for (const s of live) s.destroy();
  await new Promise((r) => relay?.close(r));
  await h?.close();
});

test('after its WebSocket is cut, the next transfer reopens one and is resolved by the watch', async () => {
  const base = `http://127.0.0.1:${(relay.address() as { port: number }).port}`;
  // Polling once a minute: only a working watch resolves these within seconds.
  const c = new HotledgerClient(base, { pollIntervalMs: 60_000, durableTimeoutMs: 8000 });
  const from = Keypair.fromSeed(h.tn.keys[0]!.seed);
  const to = h.tn.keys[1]!.publicKey;
  await c.transfer({ from, to, amount: 1 });
  expect(live.size).toBeGreaterThan(0);
  for (const s of live) s.destroy();
  await new Promise((r) => setTimeout(r, 100));
  const t0 = performance.now();
  const d = await c.transfer({ from, to, amount: 1 });
  expect(performance.now() - t0).toBeLessThan(5000);
  expect(d.height).toBeGreaterThanOrEqual(1);
  c.close();
});
