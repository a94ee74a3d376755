import { afterEach, describe, expect, it } from 'vitest';
import { FrameKind, frameHeader } from '../../src/network/frame.js';
import { PROTOCOL_VERSION } from '../../src/network/handshake.js';
import { RawPeer, freePorts, fullyConnected, makeKeys, makeNode, sleep, startCluster, validatorSet, waitFor, type Node } from './helpers.js';

let open: Node[] = [];
let raws: RawPeer[] = [];
afterEach(async () => {
  for (const r of raws) r.destroy();
  await Promise.all(open.map((n) => n.t.close()));
  open = [];
  raws = [];
});

const failures = (n: Node) => n.t.stats().handshakeFailuresByCode;
const logged = (n: Node, code: string) => n.lines.some((l) => l.code === code && l.level >= 40);

function raw(port: number): RawPeer {
  const r = new RawPeer(port);
  raws.push(r);
  return r;
}

describe('peer handshake', () => {
  it('refuses a peer whose key is not in the validator set', async () => {
    const keys = makeKeys(2);
    const [intruderKey] = makeKeys(1);
    const ports = await freePorts(2);
    const set = validatorSet(keys, ports);
    const real = makeNode({ index: 1, seed: keys[1]!.seed, validators: set, chainId: 7 });
    // The intruder believes it is validator 0 (its own config says so) and dials validator 1.
    const intruderSet = validatorSet([intruderKey!, keys[1]!], ports);
    const intruder = makeNode({ index: 0, seed: intruderKey!.seed, validators: intruderSet, chainId: 7 });
    open = [real, intruder];
    await real.t.start();
    await intruder.t.start();
    intruder.t.send(1, 'let me in');
    await waitFor(() => (failures(real).UNKNOWN_KEY ?? 0) >= 1, 3_000, 'UNKNOWN_KEY');
    await waitFor(() => (failures(intruder).REJECTED_BY_PEER ?? 0) >= 1, 3_000, 'intruder told');
    await sleep(150);
    expect(real.ups).toEqual([]);
    expect(real.received).toEqual([]);
    expect(real.t.isConnected(0)).toBe(false);
    expect(logged(real, 'UNKNOWN_KEY')).toBe(true);
  });

  it('refuses a peer that signs with a key other than the one of its claimed index', async () => {
    const { nodes, keys, ports } = await startCluster(3);
    open = [nodes[1]!];
    await Promise.all([nodes[0]!.t.close(), nodes[2]!.t.close()]);
    const n1 = nodes[1]!;
    // Claims validator 0 and presents 0's public key, but only knows validator 2's secret key.
    const r = raw(ports[1]!);
    await r.connected();
    r.sendHello({ index: 0, publicKey: keys[0]!.publicKey, chainId: 7 });
    await r.sendAuth(0, 7, keys[2]!.seed);
    await r.closed;
    expect(r.closeFrameCode()).toBe('BAD_SIGNATURE');
    expect(failures(n1).BAD_SIGNATURE).toBe(1);
    expect(logged(n1, 'BAD_SIGNATURE')).toBe(true);

    // Presenting 2's key while claiming index 0 is caught before any signature.
    const r2 = raw(ports[1]!);
    await r2.connected();
    r2.sendHello({ index: 0, publicKey: keys[2]!.publicKey, chainId: 7 });
    await r2.closed;
    expect(r2.closeFrameCode()).toBe('KEY_MISMATCH');

    // Reflection: echo the server's own AUTH back as ours.
    const r3 = raw(ports[1]!);
    await r3.connected();
    r3.sendHello({ index: 0, publicKey: keys[0]!.publicKey, chainId: 7 });
    await waitFor(() => r3.frames.some((f) => f.kind === FrameKind.AUTH), 3_000, 'server AUTH');
    r3.sendFrame(FrameKind.AUTH, Buffer.from(r3.frames.find((f) => f.kind === FrameKind.AUTH)!.body));
    await r3.closed;
    expect(r3.closeFrameCode()).toBe('BAD_SIGNATURE');
    expect(n1.ups).toEqual([]);
  });

  it('refuses a peer on another chain id, on both sides', async () => {
    const keys = makeKeys(2);
    const set = validatorSet(keys, await freePorts(2));
    const a = makeNode({ index: 0, seed: keys[0]!.seed, validators: set, chainId: 7 });
    const b = makeNode({ index: 1, seed: keys[1]!.seed, validators: set, chainId: 8 });
    open = [a, b];
    await Promise.all([a.t.start(), b.t.start()]);
    a.t.send(1, 'wrong chain');
    await waitFor(() => (failures(a).WRONG_CHAIN ?? 0) >= 1 && (failures(b).WRONG_CHAIN ?? 0) >= 1, 3_000, 'WRONG_CHAIN both');
    await sleep(200); // several back-off retries; none may succeed
    expect(a.ups).toEqual([]);
    expect(b.ups).toEqual([]);
    expect(b.received).toEqual([]);
    expect(logged(b, 'WRONG_CHAIN')).toBe(true);
  });

  it('refuses a second link to a connected peer, whichever side dials it', async () => {
    const { nodes, keys, ports } = await startCluster(3);
    open = nodes;
    await waitFor(() => fullyConnected(nodes));
    const n1 = nodes[1]!;
    // Validator 0 is already connected to 1: a second authenticated link from 0 is a duplicate.
    const dup = raw(ports[1]!);
    await dup.connected();
    dup.sendHello({ index: 0, publicKey: keys[0]!.publicKey, chainId: 7 });
    await dup.closed;
    expect(dup.closeFrameCode()).toBe('DUPLICATE');
    // Both sides may dial, but the link 1 dialed to 2 is up and outranks one 2 would dial: refused at HELLO.
    const reverse = raw(ports[1]!);
    await reverse.connected();
    reverse.sendHello({ index: 2, publicKey: keys[2]!.publicKey, chainId: 7 });
    await reverse.closed;
    expect(reverse.closeFrameCode()).toBe('DUPLICATE');
    expect(failures(n1)).toMatchObject({ DUPLICATE: 2 });
    // The real links were not disturbed.
    nodes[0]!.t.send(1, 'still here');
    await waitFor(() => n1.received.length === 1);
    expect(n1.received[0]).toEqual({ from: 0, msg: 'still here' });
  });

  it('does not let a stalled HELLO replaying a validator identity block that validator', async () => {
    const keys = makeKeys(2);
    const ports = await freePorts(2);
    const set = validatorSet(keys, ports);
    const n1 = makeNode({ index: 1, seed: keys[1]!.seed, validators: set, chainId: 7 });
    open = [n1];
    await n1.t.start();
    const squatter = raw(ports[1]!);
    await squatter.connected();
    squatter.sendHello({ index: 0, publicKey: keys[0]!.publicKey, chainId: 7 }); // public data, no AUTH follows
    await waitFor(() => squatter.serverHello !== undefined);
    const n0 = makeNode({ index: 0, seed: keys[0]!.seed, validators: set, chainId: 7 });
    open.push(n0);
    await n0.t.start();
    await waitFor(() => n1.t.isConnected(0) && n0.t.isConnected(1), 1_500, 'real validator 0 connected');
    n0.t.send(1, 'real');
    await waitFor(() => n1.received.length === 1);
    expect(n1.received).toEqual([{ from: 0, msg: 'real' }]);
  });

  it('times out a peer that never completes the handshake', async () => {
    const keys = makeKeys(2);
    const ports = await freePorts(2);
    const n = makeNode({ index: 1, seed: keys[1]!.seed, validators: validatorSet(keys, ports), chainId: 7, handshakeTimeoutMs: 300 });
    open = [n];
    await n.t.start();
    const r = raw(ports[1]!);
    await r.connected();
    const t0 = Date.now();
    await r.closed;
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(Date.now() - t0).toBeLessThan(2_000);
    expect(r.closeFrameCode()).toBe('HANDSHAKE_TIMEOUT');
    expect(failures(n).HANDSHAKE_TIMEOUT).toBe(1);
  });
});

describe('hostile bytes', () => {
  it('closes a connection sending garbage or an oversized prefix, and keeps serving the others', async () => {
    const { nodes, ports } = await startCluster(2);
    open = nodes;
    await waitFor(() => fullyConnected(nodes));
    const [n0, n1] = nodes as [Node, Node];

    const http = raw(ports[1]!);
    await http.connected();
    http.socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await http.closed;
    expect(http.closeFrameCode()).toBe('FRAME_TOO_LARGE');

    const zeros = raw(ports[1]!);
    await zeros.connected();
    zeros.socket.write(Buffer.alloc(16));
    await zeros.closed;
    expect(zeros.closeFrameCode()).toBe('PROTOCOL_ERROR');

    const badHello = raw(ports[1]!);
    await badHello.connected();
    const short = Buffer.alloc(10);
    short.writeUInt16BE(PROTOCOL_VERSION, 0);
    badHello.sendFrame(FrameKind.HELLO, short);
    await badHello.closed;
    expect(badHello.closeFrameCode()).toBe('PROTOCOL_ERROR');

    expect(failures(n1)).toMatchObject({ FRAME_TOO_LARGE: 1, PROTOCOL_ERROR: 2 });
    n0.t.send(1, 'ping');
    n1.t.send(0, 'pong');
    await waitFor(() => n1.received.length === 1 && n0.received.length === 1);
    expect(n1.received).toEqual([{ from: 0, msg: 'ping' }]);
    expect(n0.received).toEqual([{ from: 1, msg: 'pong' }]);
    expect(n1.t.isConnected(0)).toBe(true);
  });

  it('closes an authenticated link that sends an oversized or undecodable frame', async () => {
    const { nodes, keys, ports } = await startCluster(3, { maxFrameBytes: 1 << 20 });
    open = [nodes[1]!, nodes[2]!];
    await waitFor(() => fullyConnected(nodes));
    await nodes[0]!.t.close(); // the raw peer takes validator 0's place, with its real key
    const n1 = nodes[1]!;
    await waitFor(() => !n1.t.isConnected(0));

    const authAs0 = async () => {
      const r = raw(ports[1]!);
      await r.connected();
      r.sendHello({ index: 0, publicKey: keys[0]!.publicKey, chainId: 7 });
      await r.sendAuth(0, 7, keys[0]!.seed);
      await waitFor(() => n1.t.isConnected(0), 3_000, 'raw peer authenticated');
      return r;
    };

    const big = await authAs0();
    big.socket.write(frameHeader(FrameKind.DATA, (1 << 20) + 1));
    await big.closed;
    expect(big.closeFrameCode()).toBe('FRAME_TOO_LARGE');
    await waitFor(() => n1.downs.some((d) => d.index === 0 && d.reason === 'FRAME_TOO_LARGE'));

    const junk = await authAs0();
    junk.sendSealed(FrameKind.DATA, Buffer.from([0x92, 0x01])); // array of 2 with one element, correctly sealed
    await junk.closed;
    expect(junk.closeFrameCode()).toBe('DECODE_ERROR');
    await waitFor(() => n1.downs.some((d) => d.index === 0 && d.reason === 'DECODE_ERROR'));

    const c1 = await authAs0();
    c1.sendSealed(FrameKind.DATA, Buffer.from([0xc1]));
    await c1.closed;
    expect(c1.closeFrameCode()).toBe('DECODE_ERROR');
    expect(n1.received).toEqual([]);
    expect(n1.t.stats().connectionErrors).toBe(3);

    nodes[2]!.t.send(1, 'alive');
    await waitFor(() => n1.received.length === 1);
    expect(n1.received).toEqual([{ from: 2, msg: 'alive' }]);
  });

  it('drops an authenticated peer that stops answering keep-alives', async () => {
    const { nodes, keys, ports } = await startCluster(2, { pingIntervalMs: 50, idleTimeoutMs: 300 });
    open = [nodes[1]!];
    await waitFor(() => fullyConnected(nodes));
    await nodes[0]!.t.close();
    const n1 = nodes[1]!;
    await waitFor(() => !n1.t.isConnected(0));
    const r = raw(ports[1]!);
    await r.connected();
    r.sendHello({ index: 0, publicKey: keys[0]!.publicKey, chainId: 7 });
    await r.sendAuth(0, 7, keys[0]!.seed);
    await waitFor(() => n1.t.isConnected(0), 3_000, 'raw peer authenticated');
    const t0 = Date.now();
    await r.closed; // the raw peer never sends PONG
    expect(Date.now() - t0).toBeGreaterThanOrEqual(200);
    expect(r.frames.filter((f) => f.kind === FrameKind.PING).length).toBeGreaterThanOrEqual(2);
    expect(r.closeFrameCode()).toBe('IDLE_TIMEOUT');
    expect(n1.downs.at(-1)).toEqual({ index: 0, reason: 'IDLE_TIMEOUT' });
  });
});
