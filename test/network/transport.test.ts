import { afterEach, describe, expect, it } from 'vitest';
import { randomBytes, createHash } from 'node:crypto';
import type { NetworkError } from '../../src/network/errors.js';
import { FAST, freePorts, fullyConnected, makeKeys, makeNode, startCluster, validatorSet, waitFor, type Node } from './helpers.js';

let open: Node[] = [];
afterEach(async () => {
  await Promise.all(open.map((n) => n.t.close()));
  open = [];
});

describe('PeerTransport over loopback TCP', () => {
  it('connects 4 validators into a full mesh and delivers messages both ways, in order', async () => {
    const { nodes } = await startCluster(4);
    open = nodes;
    await waitFor(() => fullyConnected(nodes), 5_000, 'full mesh');
    for (const n of nodes) expect(n.ups.sort()).toEqual([0, 1, 2, 3].filter((i) => i !== n.t.index));

    for (const a of nodes)
      for (const b of nodes) {
        if (a === b) continue;
        for (let seq = 0; seq < 50; seq++) a.t.send(b.t.index, { from: a.t.index, to: b.t.index, seq, blob: Buffer.from([a.t.index, b.t.index, seq]) });
      }
    nodes[3]!.t.broadcast({ type: 'proposal', round: 9n, digests: ['a', 'b'] });
    await waitFor(() => nodes.every((n) => n.received.length === 3 * 50 + (n.t.index === 3 ? 0 : 1)), 5_000, 'all messages');

    for (const b of nodes) {
      for (const a of nodes) {
        if (a === b) continue;
        const got = b.received.filter((r) => r.from === a.t.index && (r.msg as { seq?: number }).seq !== undefined);
        // Sender index comes from the authenticated link, and must match what the sender wrote inside.
        expect(got.map((r) => r.msg)).toEqual(Array.from({ length: 50 }, (_, seq) => ({ from: a.t.index, to: b.t.index, seq, blob: Buffer.from([a.t.index, b.t.index, seq]) })));
      }
      if (b.t.index !== 3) {
        expect(b.received.filter((r) => r.from === 3 && (r.msg as { type?: string }).type === 'proposal').map((r) => r.msg)).toEqual([
          { type: 'proposal', round: 9n, digests: ['a', 'b'] },
        ]);
      }
    }
    const s = nodes[0]!.t.stats();
    expect(s.messagesOut).toBe(150);
    expect(s.messagesIn).toBe(151);
    expect(s.bytesIn).toBeGreaterThan(0);
    expect(s.handshakeFailures).toBe(0);
    expect(s.drops).toBe(0);
  });

  it('round-trips a 20 MB message', async () => {
    const { nodes } = await startCluster(2);
    open = nodes;
    const [a, b] = nodes as [Node, Node];
    await waitFor(() => fullyConnected(nodes));
    b.t.onMessage((from, msg) => b.t.send(from, { echo: msg }));
    const payload = randomBytes(20 * 1024 * 1024);
    // Frames queued behind a 20 MB write wait for 'drain': they must still arrive, and in order.
    a.t.send(1, { payload });
    a.t.send(1, { after: 1 });
    a.t.send(1, { after: 2 });
    await waitFor(() => a.received.length === 3, 20_000, 'echo of 20 MB');
    expect(a.received.slice(1).map((r) => r.msg)).toEqual([{ echo: { after: 1 } }, { echo: { after: 2 } }]);
    const echo = (a.received[0]!.msg as { echo: { payload: Buffer } }).echo.payload;
    expect(echo.length).toBe(payload.length);
    expect(createHash('sha256').update(echo).digest('hex')).toBe(createHash('sha256').update(payload).digest('hex'));
    expect(a.t.stats().bytesIn).toBeGreaterThan(20 * 1024 * 1024);
  });

  it('reconnects after a validator restarts on the same port, and messages flow again both ways', async () => {
    const { nodes, keys, set, ports } = await startCluster(3);
    open = [...nodes];
    await waitFor(() => fullyConnected(nodes), 5_000, 'mesh');
    const [n0, n1, n2] = nodes as [Node, Node, Node];
    await n1.t.close();
    await waitFor(() => !n0.t.isConnected(1) && !n2.t.isConnected(1), 3_000, 'peers see 1 down');
    expect(n0.downs.some((d) => d.index === 1)).toBe(true);
    expect(n2.downs.some((d) => d.index === 1)).toBe(true);

    // While 1 is away, node 0 queues for it; these must arrive after the restart.
    n0.t.send(1, { while: 'down', n: 1 });
    const r1 = makeNode({ index: 1, seed: keys[1]!.seed, validators: set, chainId: 7, listenPort: ports[1] });
    open.push(r1);
    await r1.t.start();
    expect(r1.t.port).toBe(ports[1]);
    await waitFor(() => fullyConnected([n0, r1, n2]), 5_000, 'mesh after restart');
    r1.t.send(0, 'hello 0');
    r1.t.send(2, 'hello 2');
    n2.t.send(1, 'from 2');
    await waitFor(() => r1.received.length === 2 && n0.received.length === 1 && n2.received.length === 1, 3_000, 'post-restart traffic');
    expect(r1.received).toEqual(
      expect.arrayContaining([
        { from: 0, msg: { while: 'down', n: 1 } },
        { from: 2, msg: 'from 2' },
      ]),
    );
    expect(n0.received).toEqual([{ from: 1, msg: 'hello 0' }]);
    expect(n2.received).toEqual([{ from: 1, msg: 'hello 2' }]);
    expect(n0.t.stats().peers.find((p) => p.index === 1)!.connects).toBe(2);
  });

  it('bounds the queue of a down peer by count, drops the oldest, and flushes the rest on connect', async () => {
    const keys = makeKeys(2);
    const ports = await freePorts(2);
    const set = validatorSet(keys, ports);
    const a = makeNode({ index: 0, seed: keys[0]!.seed, validators: set, chainId: 7, maxQueueMessages: 10 });
    open = [a];
    await a.t.start();
    for (let seq = 0; seq < 100; seq++) expect(a.t.send(1, { seq })).toBe(true);
    let s = a.t.stats();
    expect(s.drops).toBe(90);
    expect(s.peers[0]).toMatchObject({ index: 1, connected: false, queuedMessages: 10, drops: 90 });

    const b = makeNode({ index: 1, seed: keys[1]!.seed, validators: set, chainId: 7 });
    open.push(b);
    await b.t.start();
    await waitFor(() => b.received.length === 10, 5_000, 'flushed queue');
    expect(b.received.map((r) => (r.msg as { seq: number }).seq)).toEqual([90, 91, 92, 93, 94, 95, 96, 97, 98, 99]);
    s = a.t.stats();
    expect(s.peers[0]).toMatchObject({ connected: true, queuedMessages: 0, messagesOut: 10 });
  });

  it('bounds the queue by bytes so memory cannot grow without limit', async () => {
    const keys = makeKeys(2);
    const ports = await freePorts(2);
    const set = validatorSet(keys, ports);
    const maxQueueBytes = 64 * 1024;
    const a = makeNode({ index: 1, seed: keys[1]!.seed, validators: set, chainId: 7, maxQueueBytes });
    open = [a];
    await a.t.start();
    const blob = Buffer.alloc(1000, 1);
    for (let i = 0; i < 20_000; i++) a.t.send(0, { i, blob });
    const p = a.t.stats().peers[0]!;
    expect(p.queuedBytes).toBeLessThanOrEqual(maxQueueBytes);
    expect(p.queuedMessages).toBeGreaterThan(50);
    expect(p.drops).toBe(20_000 - p.queuedMessages);
    expect(p.droppedBytes).toBeGreaterThan(19_000 * 1000);
    // A single message bigger than the whole bound is refused outright.
    expect(a.t.send(0, Buffer.alloc(maxQueueBytes + 1))).toBe(false);
    expect(a.t.stats().peers[0]!.drops).toBe(p.drops + 1);
  });

  it('rejects sends to itself, to unknown indices, of oversized messages, and after close', async () => {
    const keys = makeKeys(2);
    const set = validatorSet(keys, await freePorts(2));
    const a = makeNode({ index: 0, seed: keys[0]!.seed, validators: set, chainId: 7, maxFrameBytes: 4096 });
    open = [a];
    await a.t.start();
    const code = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as NetworkError).code;
      }
      return 'no throw';
    };
    expect(code(() => a.t.send(0, 'me'))).toBe('UNKNOWN_PEER');
    expect(code(() => a.t.send(9, 'who'))).toBe('UNKNOWN_PEER');
    expect(code(() => a.t.send(1, Buffer.alloc(5000)))).toBe('FRAME_TOO_LARGE');
    // broadcast throws too, before queuing to anyone; so does a value msgpack cannot encode.
    expect(code(() => a.t.broadcast(Buffer.alloc(5000)))).toBe('FRAME_TOO_LARGE');
    expect(code(() => a.t.broadcast({ round: 2n ** 70n }))).toBe('ENCODE_ERROR');
    expect(code(() => a.t.send(1, { round: 2n ** 70n }))).toBe('ENCODE_ERROR');
    expect(a.t.stats().peers[0]!.queuedMessages).toBe(0);
    await a.t.close();
    expect(code(() => a.t.send(1, 'late'))).toBe('CLOSED');
    expect(() => makeNode({ index: 0, seed: keys[1]!.seed, validators: set, chainId: 7 })).toThrow(/does not match/);
  });

  it('exports the largest message that fits a sealed frame; exactly that size arrives, one byte more throws', async () => {
    const { nodes } = await startCluster(2, { maxFrameBytes: 4096 });
    open = nodes;
    const [a, b] = nodes as [Node, Node];
    await waitFor(() => fullyConnected(nodes));
    expect(a.t.maxMessageBytes).toBe(4096 - 16);
    // msgpack bin16: 3 header bytes + payload.
    const fits = Buffer.alloc(a.t.maxMessageBytes - 3, 7);
    expect(a.t.send(1, fits)).toBe(true);
    expect(() => a.t.send(1, Buffer.alloc(fits.length + 1))).toThrow(expect.objectContaining({ code: 'FRAME_TOO_LARGE' }) as NetworkError);
    expect(() => a.t.broadcast(Buffer.alloc(fits.length + 1))).toThrow(expect.objectContaining({ code: 'FRAME_TOO_LARGE' }) as NetworkError);
    expect(a.t.broadcast(fits)).toBe(1);
    await waitFor(() => b.received.length === 2);
    expect(b.received.map((r) => (r.msg as Buffer).equals(fits))).toEqual([true, true]);
    expect(b.downs).toEqual([]);
  });

  it('close() releases every socket, server and timer', async () => {
    const kinds = ['TCPSocketWrap', 'TCPServerWrap', 'Timeout'];
    const count = () => process.getActiveResourcesInfo().filter((r) => kinds.includes(r)).length;
    const before = count();
    const { nodes } = await startCluster(3, { ...FAST });
    await waitFor(() => fullyConnected(nodes));
    nodes[0]!.t.send(2, 'x');
    await waitFor(() => nodes[2]!.received.length === 1);
    expect(count()).toBeGreaterThan(before);
    await Promise.all(nodes.map((n) => n.t.close()));
    await waitFor(() => count() <= before, 2_000, 'handles released');
  });
});
