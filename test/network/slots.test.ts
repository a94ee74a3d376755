import { afterEach, describe, expect, it } from 'vitest';
import { SocketHog, type HogOptions } from './attackers.js';
import { ANONYMOUS_GRACE_MS } from '../../src/network/pending-slots.js';
import { RawPeer, freePorts, fullyConnected, makeKeys, makeNode, sleep, startCluster, validatorSet, waitFor, type Node } from './helpers.js';

let nodes: Node[] = [];
let hog: SocketHog | undefined;
let raws: RawPeer[] = [];
afterEach(async () => {
  hog?.stop();
  for (const r of raws) r.destroy();
  await Promise.all(nodes.map((n) => n.t.close()));
  nodes = [];
  hog = undefined;
  raws = [];
});

/** 127.0.0.1 is also the honest validators' address; 127.0.0.2-9 push the total past the global cap. */
const ADDRESSES = Array.from({ length: 9 }, (_, i) => `127.0.0.${i + 1}`);

/**
 * Four validators; a stranger holds 72 sockets against each one's peer port (above the global cap of
 * 64 and nine times the per-address cap of 8) and reopens every socket that is closed. Each validator
 * starts only after the stranger has filled its listener, highest index first, so with one-way
 * dialing and refusal at a full listener no inbound link could ever form. The handshake timeout is
 * long (10 s) so that only the slot policy, not timeouts, can free a slot within the test's bound.
 */
async function clusterUnderHog(mode: HogOptions['mode']): Promise<{ nodes: Node[]; hog: SocketHog; startedAt: number }> {
  const keys = makeKeys(4);
  const ports = await freePorts(4);
  const set = validatorSet(keys, ports);
  hog = new SocketHog({ perPort: 72, localAddresses: ADDRESSES, mode, trickleMs: 100, maxConnectsPerSec: 2_000 });
  nodes = keys.map((k, i) => makeNode({ index: i, seed: k.seed, validators: set, chainId: 7, handshakeTimeoutMs: 10_000, reverseDialDelayMs: 300 }));
  for (let i = 3; i >= 0; i--) {
    await nodes[i]!.t.start();
    hog.attack(ports[i]!);
    await waitFor(() => hog!.connectedTo(ports[i]!) >= 64, 3_000, `stranger holds validator ${i}'s slots`);
    // Seen from the listener too (the previous transport has no such counter: the stranger's own count stands).
    await waitFor(() => (nodes[i]!.t.stats().pendingHandshakes ?? 64) >= 56, 3_000, `validator ${i}'s pending slots full`);
    await sleep(50);
  }
  return { nodes, hog, startedAt: Date.now() };
}

async function expectMeshAndTraffic(ns: Node[], startedAt: number): Promise<void> {
  await waitFor(() => fullyConnected(ns), 3_000, 'full mesh despite the stranger');
  for (const a of ns) for (const b of ns) if (a !== b) a.t.send(b.t.index, { from: a.t.index, to: b.t.index });
  await waitFor(() => ns.every((n) => n.received.length === ns.length - 1), 2_000, 'every pair exchanged a message');
  expect(Date.now() - startedAt).toBeLessThan(5_000);
  for (const n of ns) expect(n.received.map((r) => r.from).sort()).toEqual([0, 1, 2, 3].filter((i) => i !== n.t.index));
  const stats = ns.map((n) => n.t.stats());
  // The stranger never held more than the cap, and lost slots to eviction rather than honest peers being refused.
  for (const s of stats) expect(s.pendingHandshakes).toBeLessThanOrEqual(64);
  expect(stats.reduce((k, s) => k + (s.handshakeFailuresByCode.TOO_MANY_PENDING ?? 0), 0)).toBeGreaterThan(0);
}

describe('connection slots under a stranger holding sockets', () => {
  it('idle sockets from the validators own address and others: validators still connect and talk', async () => {
    const { nodes: ns, hog: h, startedAt } = await clusterUnderHog('idle');
    await expectMeshAndTraffic(ns, startedAt);
    expect(h.connects).toBeGreaterThan(4 * 72);
  });

  it('sockets trickling a partial HELLO: validators still connect and talk', async () => {
    const { nodes: ns, startedAt } = await clusterUnderHog('trickle');
    await expectMeshAndTraffic(ns, startedAt);
  });

  it('caps anonymous sockets per address and in total, oldest out, sparing a fresh burst', async () => {
    const keys = makeKeys(2);
    const ports = await freePorts(2);
    const n1 = makeNode({
      index: 1,
      seed: keys[1]!.seed,
      validators: validatorSet(keys, ports),
      chainId: 7,
      handshakeTimeoutMs: 10_000,
      maxPendingHandshakes: 20,
      maxPendingPerAddress: 4,
    });
    nodes = [n1];
    await n1.t.start();
    const open = async (n: number, address: string) => {
      const rs = Array.from({ length: n }, () => new RawPeer(ports[1]!, address));
      raws.push(...rs);
      await Promise.all(rs.map((r) => r.connected()));
      return rs;
    };
    // A burst from one address is spared for the grace period (honest validators behind one address dial together).
    const burst = await open(10, '127.0.0.2');
    await waitFor(() => n1.t.stats().pendingHandshakes === 10, 2_000, 'burst accepted');
    await sleep(ANONYMOUS_GRACE_MS + 100);
    // Once stale, the next socket from that address evicts them down to the cap, oldest first.
    const late = await open(1, '127.0.0.2');
    await waitFor(() => burst.filter((r) => r.socket.destroyed).length === 7, 2_000, 'seven evicted');
    expect(burst.map((r) => r.socket.destroyed)).toEqual([true, true, true, true, true, true, true, false, false, false]);
    expect(late[0]!.socket.destroyed).toBe(false);
    expect(n1.t.stats().pendingHandshakes).toBe(4);
    // Five more addresses x 4 = 20 more: the global cap of 20 evicts from the busiest addresses, never above 20.
    const more = (await Promise.all(['127.0.0.3', '127.0.0.4', '127.0.0.5', '127.0.0.6', '127.0.0.7'].map((a) => open(4, a)))).flat();
    await waitFor(() => n1.t.stats().handshakeFailuresByCode.TOO_MANY_PENDING === 7 + 4, 2_000, 'global cap evictions');
    expect(n1.t.stats().pendingHandshakes).toBe(20);
    // Each global eviction takes the oldest socket of the address holding the most: 127.0.0.2 (first
    // to hold 4) loses its oldest first.
    await waitFor(() => burst[7]!.socket.destroyed, 1_000, 'oldest of the busiest address evicted');
    // (the client side learns of an eviction a moment after the server counted it)
    await waitFor(() => [...burst, ...late, ...more].filter((r) => !r.socket.destroyed).length === 20, 1_000, '20 sockets left');
    expect(n1.t.stats().pendingHandshakes).toBe(20);
  });

  it('a stranger replaying a validator HELLO holds at most two claims, and the real validator gets in', async () => {
    const keys = makeKeys(2);
    const ports = await freePorts(2);
    const set = validatorSet(keys, ports);
    const n1 = makeNode({ index: 1, seed: keys[1]!.seed, validators: set, chainId: 7, handshakeTimeoutMs: 10_000, reverseDialDelayMs: 600_000 });
    nodes = [n1];
    await n1.t.start();
    const squatters = Array.from({ length: 5 }, () => new RawPeer(ports[1]!));
    raws.push(...squatters);
    for (const s of squatters) {
      await s.connected();
      s.sendHello({ index: 0, publicKey: keys[0]!.publicKey, chainId: 7 });
      await waitFor(() => s.serverHello !== undefined);
      await sleep(5);
    }
    await waitFor(() => squatters.filter((s) => s.socket.destroyed).length === 3, 2_000, 'older claims evicted');
    expect(squatters.slice(3).every((s) => !s.socket.destroyed)).toBe(true);
    const n0 = makeNode({ index: 0, seed: keys[0]!.seed, validators: set, chainId: 7 });
    nodes.push(n0);
    await n0.t.start();
    await waitFor(() => n1.t.isConnected(0), 1_000, 'the real validator 0');
    n0.t.send(1, 'real');
    await waitFor(() => n1.received.length === 1);
    expect(n1.received).toEqual([{ from: 0, msg: 'real' }]);
  });
});

describe('both sides dial', () => {
  it('the higher index dials when the lower one cannot reach it', async () => {
    const keys = makeKeys(2);
    const ports = await freePorts(3);
    const set = validatorSet(keys, ports);
    // Validator 0 has a wrong address for 1 (nothing listens there): only 1's dial can make the link.
    const wrong = set.map((v) => (v.index === 1 ? { ...v, port: ports[2]! } : v));
    const n0 = makeNode({ index: 0, seed: keys[0]!.seed, validators: wrong, chainId: 7 });
    const n1 = makeNode({ index: 1, seed: keys[1]!.seed, validators: set, chainId: 7, reverseDialDelayMs: 200 });
    nodes = [n0, n1];
    await Promise.all([n0.t.start(), n1.t.start()]);
    await waitFor(() => n0.t.isConnected(1) && n1.t.isConnected(0), 3_000, 'link dialed by the higher index');
    n0.t.send(1, 'down');
    n1.t.send(0, 'up');
    await waitFor(() => n0.received.length === 1 && n1.received.length === 1);
    expect(n1.t.stats().peers[0]!.linkOutbound).toBe(true);
  });

  it('a simultaneous open leaves exactly one link per pair, the one the lower index dialed', async () => {
    const { nodes: ns } = await startCluster(4, { reverseDialDelayMs: 0 });
    nodes = ns;
    await waitFor(() => fullyConnected(ns), 5_000, 'full mesh');
    // Let every superseded link finish closing, then the picture must be stable and agreed.
    await waitFor(() => ns.every((n) => n.t.stats().peers.every((p) => p.linkOutbound === n.t.index < p.index)), 3_000, 'lower index dialed every kept link');
    for (let seq = 0; seq < 20; seq++) for (const a of ns) for (const b of ns) if (a !== b) a.t.send(b.t.index, { seq });
    await waitFor(() => ns.every((n) => n.received.length === 3 * 20), 5_000, 'all messages');
    for (const b of ns) {
      for (const a of ns) {
        if (a === b) continue;
        // In order and no duplicates, whatever link carried them.
        expect(b.received.filter((r) => r.from === a.t.index).map((r) => (r.msg as { seq: number }).seq)).toEqual(Array.from({ length: 20 }, (_, i) => i));
      }
      expect(new Set(b.ups)).toEqual(new Set([0, 1, 2, 3].filter((i) => i !== b.t.index)));
    }
  });
});
