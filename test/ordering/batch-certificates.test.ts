import { afterEach, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { Ed25519ConsensusCrypto } from '../../src/consensus/crypto.js';
import { batchVoteBytes, verifierOrder, type BatchCertificate } from '../../src/ordering/batch-certificate.js';
import { BatchCertificates, type CertOutput } from '../../src/ordering/batch-certificates.js';
import { idealCryptoSet } from '../../src/sim/sim-crypto.js';
import { devnetKeyPair, generateTransfers } from '../../src/workload/generate.js';
import { devnetValidatorKey } from '../../src/node/validator-set.js';
import { Off, TX_SIZE } from '../../src/tx/layout.js';
import { waitFor } from '../support/cluster.js';
import { HARNESS_CHAIN as CHAIN, digestOf, ordererHarness, type OrdererHarness } from '../support/orderer-harness.js';

const digest = (tag: number, first = 0) => {
  const d = new Uint8Array(32).fill(tag);
  d[0] = 0;
  d[1] = 0;
  d[2] = 0;
  d[3] = first; // verifierOrder starts at first mod n
  return d;
};
const content = (tag: number) => new Uint8Array(32).fill(200 + tag);

/** Four validators' certificate modules on the ideal signature stand-in, and a mailbox of their votes. */
function four(opts: { unsafeQuorum?: number } = {}) {
  const crypto = idealCryptoSet(1, 4);
  const nodes = [0, 1, 2, 3].map((self) => new BatchCertificates({ chainId: 9, validators: 4, self, crypto: crypto[self]!, escalateMs: 100, ...opts }));
  return { crypto, nodes };
}
/** Delivers every vote in `out` to every other node and returns their outputs. */
const spread = (x: ReturnType<typeof four>, from: number, out: CertOutput, now: number) =>
  out.votes.flatMap((v) => x.nodes.flatMap((y, i) => (i === from ? [] : [{ to: i, out: y.vote(from, v, now) }])));

describe('BatchCertificates (sans-I/O)', () => {
  it('orders verifiers origin first, then from the digest round the ring: the first f+1 are designated', () => {
    expect(verifierOrder(digest(1, 2), 0, 4)).toEqual([0, 2, 3, 1]);
    expect(verifierOrder(digest(1, 2), 2, 4)).toEqual([2, 3, 0, 1]);
    expect(verifierOrder(digest(1, 5), -1, 4)).toEqual([1, 2, 3, 0]);
    expect(verifierOrder(digest(1, 3), 6, 7)).toEqual([6, 3, 4, 5, 0, 1, 2]);
    const x = four();
    expect(x.nodes.filter((c) => c.designated(digest(1, 2), 0)).length).toBe(2);
  });

  it("certifies with the origin's admission vote and one designated verifier's; a non-verifier takes it without verifying", () => {
    const x = four();
    const d = digest(1, 2); // origin 0, then 2: designated {0, 2}; 3 and 1 are not
    const o0 = x.nodes[0]!.held(d, content(1), 0, 0, true);
    expect(o0.votes).toHaveLength(1);
    expect(o0.certified).toEqual([]);
    const o3 = x.nodes[3]!.held(d, content(1), 0, 1);
    expect(o3.verify).toEqual([]); // not designated: held, not verified
    const o2 = x.nodes[2]!.held(d, content(1), 0, 1);
    expect(o2.verify).toEqual([d]);
    for (const r of spread(x, 0, o0, 2)) expect(r.out.certified).toEqual([]);
    const v2 = x.nodes[2]!.verified(d, true, 3);
    expect(v2.certified).toEqual([d]); // 2 holds both votes now
    const at3 = spread(x, 2, v2, 4).find((r) => r.to === 3)!;
    expect(at3.out.certified).toEqual([d]);
    expect(x.nodes[3]!.certified(d)).toBe(true);
    expect(x.nodes[3]!.verifications).toBe(0);
    // Node 1 never got the batch: it has the certificate, and the batch certifies on arrival.
    expect(x.nodes[1]!.certificateOf(d)?.signers).toEqual([0, 2]);
    expect(x.nodes[1]!.held(d, content(1), -1, 5).certified).toEqual([d]);
  });

  it('a Byzantine origin that signs its own bad batch gets no certificate: the honest designated verifier refuses', () => {
    const x = four();
    const d = digest(2, 1); // origin 3 (Byzantine), then 1
    const byz = x.nodes[3]!.held(d, content(2), 3, 0, true); // signs without verifying
    x.nodes[1]!.held(d, content(2), 3, 0);
    const refused = x.nodes[1]!.verified(d, false, 1);
    expect(refused.votes).toEqual([]);
    expect(x.nodes[1]!.refused(d)).toBe(true);
    for (const r of spread(x, 3, byz, 2)) expect(r.out.certified).toEqual([]);
    // Escalation: the next verifiers (2, then 0) verify too, and refuse too: still no certificate.
    x.nodes[2]!.held(d, content(2), 3, 0);
    let verify = 0;
    for (let t = 100; t <= 800; t += 100) verify += x.nodes[2]!.onTick(t).verify.length;
    expect(verify).toBe(1);
    expect(x.nodes[2]!.verified(d, false, 850).votes).toEqual([]);
    expect(x.nodes[2]!.certified(d)).toBe(false);
    // With a threshold of f (one short), the Byzantine vote alone would have certified it.
    const broken = four({ unsafeQuorum: 1 });
    const b = broken.nodes[3]!.held(d, content(2), 3, 0, true);
    broken.nodes[0]!.held(d, content(2), 3, 0);
    expect(spread(broken, 3, b, 1).find((r) => r.to === 0)!.out.certified).toEqual([d]);
  });

  it('refuses certificates that are short, repeat a signer, carry a bad signature or a vote for other content', () => {
    const x = four();
    const d = digest(3, 0);
    const sig = (i: number, c = content(3)) => x.crypto[i]!.sign(batchVoteBytes(9, d, c));
    const cert = (signers: number[], sigs: Uint8Array[]): BatchCertificate => ({ digest: d, content: content(3), signers, sigs });
    const c = x.nodes[1]!;
    c.held(d, content(3), 0, 0);
    expect(c.certificate(cert([0], [sig(0)]), 1).certified).toEqual([]);
    expect(c.certificate(cert([0, 0], [sig(0), sig(0)]), 1).certified).toEqual([]);
    expect(c.certificate(cert([0, 2], [sig(0), sig(3)]), 1).certified).toEqual([]);
    expect(c.certificate(cert([0, 2], [sig(0), sig(2, content(4))]), 1).certified).toEqual([]);
    // Two votes for different contents never add up.
    expect(c.vote(0, { digest: d, content: content(3), signer: 0, sig: sig(0) }, 1).certified).toEqual([]);
    expect(c.vote(2, { digest: d, content: content(4), signer: 2, sig: sig(2, content(4)) }, 1).certified).toEqual([]);
    // A vote relayed for someone else is ignored (the sender must be the signer).
    expect(c.vote(3, { digest: d, content: content(3), signer: 2, sig: sig(2) }, 1).certified).toEqual([]);
    expect(c.certified(d)).toBe(false);
    expect(c.certificate(cert([0, 2], [sig(0), sig(2)]), 2).certified).toEqual([d]);
  });

  it('a certificate for other content than the copy held (a forged copy: same ids, other signatures) drops the copy', () => {
    const x = four();
    const d = digest(4, 0);
    const c = x.nodes[3]!;
    c.held(d, content(9), 0, 0);
    const sigs = [0, 1].map((i) => x.crypto[i]!.sign(batchVoteBytes(9, d, content(4))));
    const out = c.certificate({ digest: d, content: content(4), signers: [0, 1], sigs }, 1);
    expect(out.mismatch).toEqual([d]);
    expect(out.certified).toEqual([]);
    expect(c.held(d, content(4), -1, 2).certified).toEqual([d]);
  });

  it('a batch held without a certificate asks peers for it first, then escalates to verifying it itself', () => {
    const x = four();
    const d = digest(5, 2); // origin 0: order [0, 2, 3, 1]: node 1 is last
    const c = x.nodes[1]!;
    expect(c.held(d, content(5), 0, 0).timer).toEqual({ at: 100 });
    // 0 and 2 are busy, not silent: they vote for other batches meanwhile (silent ones are skipped, below).
    for (const v of [0, 2])
      for (const t of [50, 450])
        c.vote(v, { digest: digest(40 + t / 50 + v, 1), content: content(1), signer: v, sig: x.crypto[v]!.sign(batchVoteBytes(9, digest(40 + t / 50 + v, 1), content(1))) }, t);
    const ticks = [100, 200, 300, 400, 500, 600, 700, 800, 900].map((t) => c.onTick(t));
    expect(ticks.map((o) => o.requests.length)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1]);
    // Position 3: one more verifier every 4 periods, so it verifies at the 8th (f + 1 + 2 > 3).
    expect(ticks.map((o) => o.verify.length)).toEqual([0, 0, 0, 0, 0, 0, 0, 1, 0]);
    expect(ticks[0]!.requests[0]!.to).not.toBe(1);
    const v = c.verified(d, true, 850);
    expect(v.verifiedHere).toEqual([d]); // valid here for execution; not certified (one vote)
    expect(v.certified).toEqual([]);
  });

  it('a designated verifier lacking the batch asks its origin, then in turn the other voters, then everyone else', () => {
    const x = four({ unsafeQuorum: 3 }); // two votes must not certify here
    const d = digest(5, 2); // origin 0, then 2: node 2 is designated
    // Origin 0 voted (its admission verify) and so did 3 (it verified by escalation); 2 never got the batch.
    const sign = (v: number) => x.crypto[v]!.sign(batchVoteBytes(9, d, content(5)));
    x.nodes[2]!.vote(0, { digest: d, content: content(5), signer: 0, sig: sign(0) }, 0);
    x.nodes[2]!.vote(3, { digest: d, content: content(5), signer: 3, sig: sign(3) }, 0);
    const asked: number[] = [];
    for (let t = 100; t <= 3_000 && asked.length < 4; t += 100) for (const f of x.nodes[2]!.onTick(t).fetch) asked.push(f.from);
    // An origin that never serves (silent, Byzantine) must not be the only one asked.
    expect(asked).toEqual([0, 3, 1, 0]);
  });

  it('a validator that never got a batch fetches it when a voter says its vote again (no certificate after a round timeout), designated or not', () => {
    const x = four();
    const d = digest(11, 2); // origin 0, order [0, 2, 3, 1]: node 1 is last, not designated
    const sign = (v: number) => x.crypto[v]!.sign(batchVoteBytes(9, d, content(11)));
    const c = x.nodes[1]!;
    c.vote(0, { digest: d, content: content(11), signer: 0, sig: sign(0) }, 0);
    expect([100, 200, 300].flatMap((t) => c.onTick(t).fetch)).toEqual([]); // not designated: waits for the certificate
    // The origin says its vote again: the batch is stuck (here, its designated verifier 2 silent
    // and 3 without a copy); node 1 fetches it, so escalation can reach it.
    c.vote(0, { digest: d, content: content(11), signer: 0, sig: sign(0) }, 400);
    const asked = [500, 600].flatMap((t) => c.onTick(t).fetch);
    expect(asked.map((f) => f.from)).toEqual([0]);
  });

  it('a designated verifier whose link is down is skipped: the next in the order verifies at once', () => {
    const x = four();
    const d = digest(6, 2); // order [0, 2, 3, 1]: designated {0, 2}
    expect(x.nodes[3]!.held(d, content(6), 0, 0).verify).toEqual([]);
    expect(x.nodes[3]!.peerLink(2, false, 10).verify).toEqual([d]);
    expect(x.nodes[3]!.designated(digest(7, 2), 0)).toBe(true);
    x.nodes[3]!.peerLink(2, true, 20);
    expect(x.nodes[3]!.designated(digest(7, 2), 0)).toBe(false);
  });

  it('a designated verifier that sends no vote at all for 4 periods while a batch waits is skipped until it votes again; one voting for other batches is not', () => {
    const crypto = idealCryptoSet(1, 4);
    const c = new BatchCertificates({ chainId: 9, validators: 4, self: 3, crypto: crypto[3]!, escalateMs: 100, firstEscalation: 16 });
    const vote = (from: number, d: Uint8Array, k: number, now: number) =>
      c.vote(from, { digest: d, content: content(k), signer: from, sig: crypto[from]!.sign(batchVoteBytes(9, d, content(k))) }, now);
    const d = digest(6, 2); // order [0, 2, 3, 1]: designated {0, 2}; 3 is next
    c.held(d, content(6), 0, 0);
    vote(0, d, 6, 1); // the origin's own vote
    vote(2, digest(9, 1), 9, 250); // 2 votes for another batch meanwhile: busy, not silent
    expect([100, 200, 300, 400, 500].map((t) => c.onTick(t).verify.length)).toEqual([0, 0, 0, 0, 0]);
    expect(c.skipped()).toEqual([]);
    // A later batch for which 2 sends nothing, nor for anything else: after 4 periods 2 is skipped,
    // and 3 verifies both waiting batches at once (not after the first escalation, 16 periods).
    const d2 = digest(7, 2);
    c.held(d2, content(7), 0, 550);
    vote(0, d2, 7, 551);
    const verify = [600, 700, 800, 900, 1000].flatMap((t) => c.onTick(t).verify);
    expect(verify.map((x) => x[4]).sort()).toEqual([6, 7]);
    expect(c.skipped()).toEqual([2]);
    expect(c.designated(digest(8, 2), 0)).toBe(true);
    vote(2, digest(10, 1), 10, 1_100); // it votes again: designated again
    expect(c.skipped()).toEqual([]);
    expect(c.designated(digest(8, 2), 0)).toBe(false);
  });

  it('forgets digests nobody here holds beyond its bound (a Byzantine signer cannot grow it without limit)', () => {
    const x = four();
    const c = x.nodes[1]!;
    for (let i = 0; i < 10_000; i++) {
      const d = new Uint8Array(32);
      new DataView(d.buffer).setUint32(4, i);
      c.vote(3, { digest: d, content: content(1), signer: 3, sig: x.crypto[3]!.sign(batchVoteBytes(9, d, content(1))) }, i);
    }
    expect(c.size).toBeLessThanOrEqual(4_096);
  });
});

let h: OrdererHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** A batch whose verifier order from `origin` puts validator 1 (the harness) last: it is never designated. */
const notForOne = (k: number, origin: number) => {
  for (let r = 500; ; r++) {
    const txs = generateTransfers({ chainId: CHAIN, senders: [devnetKeyPair(CHAIN, k)], recipients: [devnetKeyPair(CHAIN, r).publicKey], count: 3 });
    if (verifierOrder(digestOf(txs), origin, 4)[3] === 1) return txs;
  }
};
const keys = [0, 1, 2, 3].map((i) => devnetValidatorKey(CHAIN, i));
const signer = (i: number) =>
  new Ed25519ConsensusCrypto(
    keys[i]!.seed,
    keys.map((k) => k.publicKey),
  );
const voteMsg = (i: number, txs: Buffer) => {
  const d = digestOf(txs);
  const h = new Uint8Array(createHash('sha256').update(txs).digest());
  return { k: 'bv', d, h, s: signer(i).sign(batchVoteBytes(CHAIN, d, h)) };
};
/** Whether validator 1 serves the batch (it does once the batch is valid there). */
async function serves(x: OrdererHarness, txs: Buffer): Promise<boolean> {
  x.net.sent.length = 0;
  x.net.deliver(3, { k: 'bq', d: [digestOf(txs)] });
  await new Promise((r) => setTimeout(r, 20));
  return x.net.sent.some((s) => s.msg.k === 'br');
}

describe('batch certificates in the validator ordering layer', () => {
  it('holds a batch it is not a designated verifier of, unverified, until f+1 votes certify it; then serves it with the certificate', async () => {
    h = await ordererHarness({ batchVerifiers: 2 }); // f + 1, as nodes run
    const txs = notForOne(7, 2);
    h.net.deliver(2, { k: 'b', txs });
    await new Promise((r) => setTimeout(r, 200));
    expect(await serves(h, txs)).toBe(false);
    expect(h.net.sent.filter((s) => s.msg.k === 'bv')).toEqual([]); // it did not verify, so it does not vote
    h.net.deliver(2, voteMsg(2, txs));
    expect(await serves(h, txs)).toBe(false); // one vote (the origin's): not enough with f = 1
    const second = verifierOrder(digestOf(txs), 2, 4)[1]!;
    h.net.deliver(second, voteMsg(second, txs));
    const until = Date.now() + 5_000;
    while (!(await serves(h, txs))) if (Date.now() > until) throw new Error('the certified batch was never served');
    const answer = h.net.sent.find((s) => s.msg.k === 'br')!.msg as { c?: { v: number[] }[] };
    expect(answer.c?.[0]?.v).toEqual([2, second].sort((a, b) => a - b));
    expect(h.drops).toEqual([]);
  });

  it('a Byzantine origin signing its own batch that holds a bad signature: never certified; escalation verifies it here and refuses it', async () => {
    h = await ordererHarness({ timeoutMs: 400, batchVerifiers: 2 }); // escalation every 100 ms; f + 1 designated
    const forged = notForOne(8, 2);
    forged.fill(0, TX_SIZE + Off.SIGNATURE, TX_SIZE + Off.SIGNATURE + 64);
    h.net.deliver(2, { k: 'b', txs: forged });
    h.net.deliver(2, voteMsg(2, forged)); // the Byzantine origin vouches for it
    await waitFor(() => h!.drops.some((d) => d.from === 2 && d.reason === 'bad-signature'), 5_000, 'the forged batch verified by escalation');
    // It asked peers for a certificate first, and never voted for the batch.
    expect(h.net.sent.some((s) => s.msg.k === 'cq')).toBe(true);
    expect(h.net.sent.filter((s) => s.msg.k === 'bv')).toEqual([]);
    expect(await serves(h, forged)).toBe(false);
  });

  it("an origin's later batch, certified at once, is offered only after its earlier one, however long that one's certificate takes", async () => {
    h = await ordererHarness({ timeoutMs: 400, batchVerifiers: 2 }); // escalation every 100 ms, the first after 1.6 s
    // A: order [2, x, 1, y] (validator 1 verifies it at the first escalation); B: the next nonces.
    let a: Buffer | undefined;
    let b: Buffer | undefined;
    for (let r = 600; !a; r++) {
      const txs = generateTransfers({ chainId: CHAIN, senders: [devnetKeyPair(CHAIN, 9)], recipients: [devnetKeyPair(CHAIN, r).publicKey], count: 3 });
      if (verifierOrder(digestOf(txs), 2, 4)[2] !== 1) continue;
      a = txs;
      b = generateTransfers({ chainId: CHAIN, senders: [devnetKeyPair(CHAIN, 9)], recipients: [devnetKeyPair(CHAIN, r).publicKey], count: 3, startNonces: [4] });
    }
    const x = verifierOrder(digestOf(a), 2, 4)[1]!;
    const boot = 77;
    h.net.deliver(2, { k: 'b', txs: a, i: boot, n: 1 });
    h.net.deliver(2, { k: 'b', txs: b, i: boot, n: 2 });
    h.net.deliver(2, voteMsg(2, a));
    h.net.deliver(2, voteMsg(2, b!));
    // x votes for B (so it is not silent) but never for A: A waits for escalation, B is certified.
    h.net.deliver(x, voteMsg(x, b!));
    const offered: string[] = [];
    const until = Date.now() + 6_000;
    while (offered.length < 2 && Date.now() < until) {
      for (const [name, txs] of [
        ['A', a],
        ['B', b!],
      ] as const)
        if (!offered.includes(name) && h.o.offeredToConsensus(digestOf(txs))) offered.push(name);
      await new Promise((r) => setTimeout(r, 10));
    }
    // Before: B went ahead after a 2-timeout give-up (800 ms), so its nonces 4..6 were proposed before 1..3.
    expect(offered).toEqual(['A', 'B']);
    expect(h.drops).toEqual([]);
  });
});
