import { afterEach, describe, expect, it } from 'vitest';
import { FrameKind, createCodec, frameHeader } from '../../src/network/frame.js';
import { Relay } from './attackers.js';
import { freePorts, makeKeys, makeNode, validatorSet, waitFor, type Node } from './helpers.js';

/**
 * A relay on the path from validator 0 to validator 1 (0's config points at the relay). Once the
 * link is up the relay tampers with the stream; the receiver must deliver nothing of it, close the
 * link with FRAME_AUTH_FAILED, and the dialer must come back through the relay by redialing.
 */
let nodes: Node[] = [];
let relay: Relay | undefined;
afterEach(async () => {
  await Promise.all(nodes.map((n) => n.t.close()));
  await relay?.close();
  nodes = [];
  relay = undefined;
});

async function relayedPair(): Promise<{ n0: Node; n1: Node; relay: Relay }> {
  const keys = makeKeys(2);
  const ports = await freePorts(2);
  const set = validatorSet(keys, ports);
  relay = new Relay(ports[1]!);
  await relay.start();
  const viaRelay = set.map((v) => (v.index === 1 ? { ...v, port: relay!.port } : v));
  // No reverse dial: 1 would reach 0 directly and bypass the relay.
  const n0 = makeNode({ index: 0, seed: keys[0]!.seed, validators: viaRelay, chainId: 7, reverseDialDelayMs: 600_000 });
  const n1 = makeNode({ index: 1, seed: keys[1]!.seed, validators: set, chainId: 7, reverseDialDelayMs: 600_000 });
  nodes = [n0, n1];
  await Promise.all([n0.t.start(), n1.t.start()]);
  await waitFor(() => n0.t.isConnected(1) && n1.t.isConnected(0), 3_000, 'link through the relay');
  return { n0, n1, relay };
}

const seqs = (n: Node) => n.received.filter((r) => r.from === 0).map((r) => (r.msg as { seq: number }).seq);
const authFailures = (n: Node) => n.downs.filter((d) => d.index === 0 && d.reason === 'FRAME_AUTH_FAILED').length;

/** After a tamper: the link is closed by the receiver and comes back through a fresh relayed connection. */
async function expectClosedAndRecovered(n0: Node, n1: Node, r: Relay, before: number, nextSeq: number): Promise<void> {
  await waitFor(() => authFailures(n1) === before + 1, 3_000, 'receiver closes the tampered link with FRAME_AUTH_FAILED');
  const conns = r.connections;
  await waitFor(() => n0.t.isConnected(1) && n1.t.isConnected(0) && r.connections > conns, 3_000, 'link redialed through the relay');
  n0.t.send(1, { seq: nextSeq });
  await waitFor(() => seqs(n1).includes(nextSeq), 3_000, 'traffic after recovery');
}

describe('on-path relay between two validators', () => {
  it('a flipped byte in a DATA frame is never delivered and closes the link', async () => {
    const { n0, n1, relay: r } = await relayedPair();
    n0.t.send(1, { seq: 0, blob: Buffer.alloc(32) });
    await waitFor(() => seqs(n1).length === 1, 3_000, 'clean message through the relay');
    r.arm({ kind: 'flip' });
    n0.t.send(1, { seq: 1, blob: Buffer.alloc(32) }); // the relay flips the last byte (inside the blob in plaintext)
    await expectClosedAndRecovered(n0, n1, r, 0, 2);
    expect(r.tampered).toBe(1);
    expect(seqs(n1)).toEqual([0, 2]);
    expect(n1.received.every((m) => (m.msg as { blob?: Buffer }).blob === undefined || (m.msg as { blob: Buffer }).blob.equals(Buffer.alloc(32)))).toBe(true);
  });

  it('a replayed DATA frame is never delivered a second time and closes the link', async () => {
    const { n0, n1, relay: r } = await relayedPair();
    n0.t.send(1, { seq: 0 });
    await waitFor(() => seqs(n1).length === 1, 3_000, 'first message');
    r.arm({ kind: 'replay' }); // after the next DATA frame, the relay sends the first one again
    n0.t.send(1, { seq: 1 });
    await expectClosedAndRecovered(n0, n1, r, 0, 2);
    expect(r.tampered).toBe(1);
    expect(seqs(n1)).toEqual([0, 1, 2]);
  });

  it('a frame crafted by the relay is never delivered and closes the link', async () => {
    const { n0, n1, relay: r } = await relayedPair();
    n0.t.send(1, { seq: 0 });
    await waitFor(() => seqs(n1).length === 1, 3_000, 'first message');
    // A well-formed plaintext DATA frame: before sealing, the receiver would deliver it as from validator 0.
    const evil = createCodec().pack({ seq: 666, vote: 'forged' });
    r.arm({ kind: 'inject', frame: Buffer.concat([frameHeader(FrameKind.DATA, evil.length), evil]) });
    await expectClosedAndRecovered(n0, n1, r, 0, 1);
    // And one shaped like a sealed frame (random bytes with room for a tag) fares no better.
    const fake = Buffer.alloc(64, 0x5a);
    r.arm({ kind: 'inject', frame: Buffer.concat([frameHeader(FrameKind.DATA, fake.length), fake]) });
    await expectClosedAndRecovered(n0, n1, r, 1, 2);
    // A forged CLOSE is refused the same way (it would otherwise read as an orderly close by 0).
    r.arm({ kind: 'inject', frame: Buffer.concat([frameHeader(FrameKind.CLOSE, 8), Buffer.from('SHUTDOWN')]) });
    await expectClosedAndRecovered(n0, n1, r, 2, 3);
    expect(seqs(n1)).toEqual([0, 1, 2, 3]);
    expect(n1.received.some((m) => (m.msg as { seq: number }).seq === 666)).toBe(false);
  });
});
