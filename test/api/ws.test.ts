import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { startApi, override, transfer, getJson, waitFor, type ApiHarness } from './support/api.js';
import type { CommittedBlockEvent, NodeApi } from '../../src/node/node-api.js';
import { TX_SIZE } from '../../src/tx/layout.js';

let h: ApiHarness;
beforeAll(async () => {
  h = await startApi();
});
afterAll(async () => {
  await h?.close();
});

/** A ws client that collects JSON messages and can wait for one matching a predicate. */
async function client(base: string) {
  const ws = new WebSocket(`${base.replace('http', 'ws')}/api/v11/ws`);
  const msgs: any[] = [];
  ws.on('message', (d, isBinary) => {
    expect(isBinary).toBe(false);
    msgs.push(JSON.parse(d.toString()));
  });
  await new Promise<void>((res, rej) => {
    ws.once('open', () => res());
    ws.once('error', rej);
  });
  return {
    ws,
    msgs,
    next: (pred: (m: any) => boolean, what = 'message') => waitFor(() => msgs.find(pred), 20_000, what),
    close: () => ws.close(),
  };
}

describe('WebSocket', () => {
  test('binary frame → ack with per-tx results; bad length → error frame', async () => {
    const c = await client(h.base);
    try {
      c.ws.send(Buffer.concat([transfer(h.tn, 0, 1, 1), transfer(h.tn, 0, 1, 1)]));
      const ack = await c.next((m) => m.type === 'ack', 'ack');
      expect(ack.seq).toBe(1);
      expect(ack.accepted).toBe(1);
      expect(ack.rejected).toBe(1);
      expect(ack.results[0].id).toMatch(/^[0-9a-f]{64}$/);
      expect(ack.results[1]).toMatchObject({ index: 1, code: expect.stringMatching(/NONCE_PENDING|DUPLICATE/) });
      c.ws.send(Buffer.alloc(TX_SIZE - 1));
      const err = await c.next((m) => m.type === 'error', 'error');
      expect(err).toMatchObject({ seq: 2, code: 'BAD_REQUEST' });
    } finally {
      c.close();
    }
  });

  test('subscribe to blocks and watch a tx id: both notify on commit', async () => {
    const c = await client(h.base);
    try {
      c.ws.send(JSON.stringify({ op: 'subscribe', topic: 'blocks', txIds: true }));
      await c.next((m) => m.type === 'subscribed', 'subscribed');
      const tx = transfer(h.tn, 2, 3, 1);
      const r = await fetch(`${h.base}/api/v11/transactions`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: tx });
      const id = ((await r.json()) as any).results[0].id as string;
      c.ws.send(JSON.stringify({ op: 'watch', ids: [id] }));
      const note = await c.next((m) => m.type === 'tx' && m.id === id, 'tx notification');
      expect(note.status).toBe('committed');
      expect(note.height).toBeGreaterThanOrEqual(1);
      const block = await c.next((m) => m.type === 'block' && m.block.height === note.height, 'block notification');
      expect(block.txIds).toContain(id);
      expect(block.block.txCount).toBeGreaterThanOrEqual(1);
      // Watching an id that is already committed answers at once.
      c.msgs.length = 0;
      c.ws.send(JSON.stringify({ op: 'watch', ids: [id] }));
      const again = await c.next((m) => m.type === 'tx', 'immediate tx status');
      expect(again).toMatchObject({ id, status: 'committed' });
    } finally {
      c.close();
    }
  });

  test('a forged transaction is refused in its ack with BAD_SIGNATURE, in words (verified before admission)', async () => {
    const c = await client(h.base);
    try {
      const tx = transfer(h.tn, 1, 2, 1);
      tx[TX_SIZE - 1]! ^= 0xff;
      c.ws.send(tx);
      const ack = await c.next((m) => m.type === 'ack', 'ack');
      expect(ack).toMatchObject({ accepted: 0, rejected: 1 });
      expect(ack.results[0]).toMatchObject({ index: 0, code: 'BAD_SIGNATURE', message: expect.any(String) });
    } finally {
      c.close();
    }
  });

  test('malformed text frames and too many watched ids answer errors, connection stays usable', async () => {
    const c = await client(h.base);
    try {
      c.ws.send('not json');
      await c.next((m) => m.type === 'error' && m.code === 'BAD_REQUEST', 'json error');
      c.ws.send(JSON.stringify({ op: 'watch', ids: ['xyz'] }));
      await waitFor(() => c.msgs.filter((m) => m.type === 'error').length >= 2 || undefined);
      const many = Array.from({ length: 10_001 }, (_, i) => i.toString(16).padStart(64, '0'));
      c.ws.send(JSON.stringify({ op: 'watch', ids: many }));
      const capErr = await c.next((m) => m.type === 'error' && m.limit === 10_000, 'cap error');
      expect(capErr.code).toBe('BAD_REQUEST');
      c.ws.send(JSON.stringify({ op: 'subscribe', topic: 'blocks' }));
      await c.next((m) => m.type === 'subscribed', 'still usable');
    } finally {
      c.close();
    }
  });
});

describe('WebSocket backpressure', () => {
  test('a subscriber that stops reading is disconnected; the server stays healthy', async () => {
    // Injectable block events so the test controls the notification volume (the API is under test).
    const listeners = new Set<(b: CommittedBlockEvent) => void>();
    let wrapped: NodeApi | undefined;
    const s = await startApi({
      overrides: { api: { wsMaxBackpressureBytes: 64 * 1024 } },
      wrap: (n) =>
        (wrapped = override(n, {
          onBlock: (l) => {
            listeners.add(l);
            const off = n.onBlock(l);
            return () => {
              listeners.delete(l);
              off();
            };
          },
        })),
    });
    expect(wrapped).toBeDefined();
    try {
      const slow = await client(s.base);
      slow.ws.send(JSON.stringify({ op: 'subscribe', topic: 'blocks', txIds: true }));
      await slow.next((m) => m.type === 'subscribed');
      const closed = new Promise<{ code: number; reason: string }>((res) => slow.ws.once('close', (code, reason) => res({ code, reason: reason.toString() })));
      // Stop reading: the kernel buffers fill, then uWS buffers, then the server must drop us.
      (slow.ws as unknown as { _socket: import('node:net').Socket })._socket.pause();
      const fast = await client(s.base);
      fast.ws.send(JSON.stringify({ op: 'subscribe', topic: 'blocks' }));
      await fast.next((m) => m.type === 'subscribed');
      const ids = Buffer.alloc(32 * 5000, 7);
      const statuses = new Uint8Array(5000);
      const block = s.tn.node.getBlock('latest') ?? {
        height: 0,
        hash: '00',
        parentHash: '00',
        stateRoot: '00',
        parentStateRoot: '00',
        timestamp: 0,
        txCount: 5000,
        committed: 5000,
        rejected: 0,
      };
      const metric = async () => {
        const text = await (await fetch(`${s.base}/q/metrics`)).text();
        return Number(/^hotledger_ws_slow_consumer_closes_total (\d+)/m.exec(text)?.[1] ?? '0');
      };
      let dropped = false;
      for (let i = 0; i < 400 && !dropped; i++) {
        for (const l of listeners) l({ block: { ...block, height: 1_000_000 + i }, txIds: ids, statuses });
        if (i % 10 === 9) {
          dropped = (await metric()) >= 1;
          await new Promise((r) => setTimeout(r, 5));
        }
      }
      expect(dropped, 'slow consumer was never dropped').toBe(true);
      // Server healthy, the fast subscriber still gets notifications, a new connection works.
      expect((await getJson(`${s.base}/q/health/live`)).status).toBe(200);
      fast.msgs.length = 0;
      for (const l of listeners) l({ block: { ...block, height: 2_000_000 }, txIds: ids, statuses });
      await fast.next((m) => m.type === 'block' && m.block.height === 2_000_000, 'fast subscriber notification');
      (slow.ws as unknown as { _socket: import('node:net').Socket })._socket.resume();
      const c = await Promise.race([closed, new Promise<undefined>((r) => setTimeout(() => r(undefined), 15_000))]);
      expect(c, 'slow client never saw its connection close').toBeDefined();
      expect([1008, 1006]).toContain(c!.code);
      const text = await (await fetch(`${s.base}/q/metrics`)).text();
      expect(text).toMatch(/^hotledger_ws_connections 1$/m);
      fast.close();
    } finally {
      await s.close();
    }
  });
});
