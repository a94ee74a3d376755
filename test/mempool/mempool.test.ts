import { describe, it, expect, beforeEach } from 'vitest';
import { Mempool, admissionTxId, type CommittedView } from '../../src/mempool/mempool.js';
import { signTransfer } from '../../src/tx/sign.js';
import { Off, TX_SIZE } from '../../src/tx/layout.js';
import { txId } from '../../src/tx/codec.js';
import { RejectCode } from '../../src/errors.js';
import { devnetKeys } from '../support/fixtures.js';

const CHAIN = 42;
const [alice, bob, carol] = devnetKeys(CHAIN, 3) as [ReturnType<typeof devnetKeys>[number], ReturnType<typeof devnetKeys>[number], ReturnType<typeof devnetKeys>[number]];

function tx(nonce: number, opts: { from?: typeof alice; amount?: number; chainId?: number } = {}): Buffer {
  const from = opts.from ?? alice;
  const to = from === bob ? carol : bob;
  return signTransfer({ chainId: opts.chainId ?? CHAIN, sender: from.publicKey, recipient: to.publicKey, amount: opts.amount ?? 5, nonce }, from.seed);
}

describe('Mempool admission', () => {
  let nonces: Map<string, number>;
  let known: Set<string>;
  let mp: Mempool;
  const view: CommittedView = {
    committedNonce: (pk) => nonces.get(Buffer.from(pk).toString('hex')),
    hasTx: (id) => known.has(Buffer.from(id).toString('hex')),
  };
  beforeEach(() => {
    nonces = new Map([
      [Buffer.from(alice.publicKey).toString('hex'), 3],
      [Buffer.from(carol.publicKey).toString('hex'), 0],
    ]);
    known = new Set();
    mp = new Mempool({ chainId: CHAIN, capacity: 5, maxPerSender: 4, maxNonceGap: 10 }, view);
  });

  it('admits the next nonce and makes it ready', () => {
    const r = mp.admit(tx(4));
    expect(r.ok).toBe(true);
    expect(mp.size).toBe(1);
    expect(mp.readyCount).toBe(1);
  });

  it('rejects a replayed (committed) nonce and an equal pending nonce', () => {
    expect(mp.admit(tx(3))).toMatchObject({ ok: false, code: 'NONCE_TOO_LOW' });
    expect(mp.admit(tx(4)).ok).toBe(true);
    // Same sender, same nonce, different amount: still the same nonce, must not pass (Aureon bug).
    expect(mp.admit(tx(4, { amount: 6 }))).toMatchObject({ ok: false, code: 'NONCE_PENDING' });
    // The very same bytes again.
    expect(mp.admit(tx(4))).toMatchObject({ ok: false, code: 'NONCE_PENDING' });
    expect(mp.size).toBe(1);
  });

  it("a gap filled by another node's block releases the waiting nonces (the client moved to another node)", () => {
    // Nonce 4 was submitted to another node and committed there; this node's ledger read, at the
    // time nonce 5 came, was one block behind, so 5 waits for a 4 that will never come here.
    expect(mp.admit(tx(5)).ok).toBe(true);
    expect(mp.admit(tx(6)).ok).toBe(true);
    expect(mp.readyCount).toBe(0);
    mp.noteForeignCommit(); // a foreign block that did not touch alice: nothing moves
    expect(mp.readyCount).toBe(0);
    nonces.set(Buffer.from(alice.publicKey).toString('hex'), 4);
    mp.noteForeignCommit();
    expect(mp.takeReady(10).map((e) => e.nonce)).toEqual([5, 6]);
  });

  it('a waiting nonce another transaction committed elsewhere is dropped as NONCE_TOO_LOW', () => {
    expect(mp.admit(tx(5)).ok).toBe(true);
    const six = tx(6);
    expect(mp.admit(six).ok).toBe(true);
    nonces.set(Buffer.from(alice.publicKey).toString('hex'), 6); // 4, 5 and another 6 committed elsewhere
    mp.noteForeignCommit();
    expect(mp.readyCount).toBe(0);
    expect(mp.size).toBe(0);
    expect(mp.droppedReason(txId(six))).toBe('NONCE_TOO_LOW');
    expect(mp.admit(tx(7)).ok).toBe(true);
    expect(mp.takeReady(10).map((e) => e.nonce)).toEqual([7]);
  });

  it('holds a future nonce until the gap fills, then releases in nonce order', () => {
    expect(mp.admit(tx(6)).ok).toBe(true);
    expect(mp.admit(tx(5)).ok).toBe(true);
    expect(mp.readyCount).toBe(0);
    expect(mp.admit(tx(6, { amount: 9 }))).toMatchObject({ ok: false, code: 'NONCE_PENDING' });
    expect(mp.admit(tx(4)).ok).toBe(true);
    expect(mp.readyCount).toBe(3);
    expect(mp.takeReady(10).map((e) => e.nonce)).toEqual([4, 5, 6]);
  });

  it("one sender's waiting nonces are its own: another sender's gap-free nonce is not held or refused", () => {
    expect(mp.admit(tx(6)).ok).toBe(true); // alice waits for 4 and 5
    expect(mp.admit(tx(6, { from: carol })).ok).toBe(true); // carol (committed 0) waits for 1 to 5
    expect(mp.admit(tx(1, { from: carol })).ok).toBe(true);
    expect(mp.readyCount).toBe(1);
    expect(mp.admit(tx(4)).ok).toBe(true);
    expect(mp.takeReady(10).map((e) => e.nonce)).toEqual([1, 4]);
  });

  it('admission ids (libsodium) are the transaction ids of txId (node:crypto)', () => {
    const batch = Buffer.concat([tx(4), tx(5), tx(1, { from: carol })]);
    for (let i = 0; i < 3; i++) expect(admissionTxId(batch, i * TX_SIZE).equals(txId(batch, i * TX_SIZE))).toBe(true);
    const shared = new Uint8Array(new SharedArrayBuffer(batch.length));
    shared.set(batch);
    expect(admissionTxId(shared, TX_SIZE).equals(txId(batch, TX_SIZE))).toBe(true);
    const r = mp.precheck(batch, TX_SIZE);
    expect(r.ok && r.id.equals(txId(batch, TX_SIZE))).toBe(true);
  });

  it('answers full at capacity and per-sender bound instead of growing', () => {
    for (let n = 4; n < 8; n++) expect(mp.admit(tx(n)).ok).toBe(true);
    expect(mp.admit(tx(8))).toMatchObject({ ok: false, code: 'SENDER_QUEUE_FULL' });
    expect(mp.admit(tx(1, { from: carol })).ok).toBe(true);
    expect(mp.admit(tx(2, { from: carol }))).toMatchObject({ ok: false, code: 'MEMPOOL_FULL' });
    expect(mp.size).toBe(5);
  });

  it('rejects malformed, wrong chain, zero and oversized amounts, unknown senders, far nonces, known ids', () => {
    expect(mp.admit(tx(4).subarray(0, 100))).toMatchObject({ ok: false, code: 'WRONG_SIZE' });
    expect(mp.admit(tx(4, { chainId: CHAIN + 1 }))).toMatchObject({ ok: false, code: 'WRONG_CHAIN' });
    const zero = tx(4);
    zero.fill(0, Off.AMOUNT, Off.AMOUNT + 8);
    expect(mp.admit(zero)).toMatchObject({ ok: false, code: 'ZERO_AMOUNT' });
    const huge = tx(4);
    huge.fill(0xff, Off.AMOUNT, Off.AMOUNT + 8);
    expect(mp.admit(huge)).toMatchObject({ ok: false, code: 'AMOUNT_TOO_LARGE' });
    const v3 = tx(4);
    v3[Off.VERSION] = 3;
    expect(mp.admit(v3)).toMatchObject({ ok: false, code: 'UNSUPPORTED_VERSION' });
    // Version 2 is a contract transaction: a transfer's bytes under it do not frame as one.
    const v2 = tx(4);
    v2[Off.VERSION] = 2;
    expect(mp.admit(v2)).toMatchObject({ ok: false, code: 'WRONG_SIZE' });
    expect(mp.admit(tx(1, { from: bob }))).toMatchObject({ ok: false, code: 'UNKNOWN_SENDER' });
    expect(mp.admit(tx(14))).toMatchObject({ ok: false, code: 'NONCE_TOO_FAR' });
    // An id already in the ledger (e.g. rejected in an earlier block) is a duplicate.
    const t = tx(4);
    known.add(txId(t).toString('hex'));
    expect(mp.admit(t)).toMatchObject({ ok: false, code: 'DUPLICATE' });
    expect(mp.size).toBe(0);
  });

  it('after an execution failure drops the sender’s waiting txs and resyncs to the committed nonce', () => {
    for (const n of [4, 5]) mp.admit(tx(n));
    const batch = mp.takeReady(10);
    expect(mp.admit(tx(7)).ok).toBe(true); // waits for 6
    // Block: nonce 4 committed, nonce 5 failed (e.g. insufficient funds).
    mp.onCommitted(batch, Uint8Array.from([0, RejectCode.INSUFFICIENT_FUNDS]));
    expect(mp.size).toBe(0);
    expect(mp.droppedReason(txId(tx(7)))).toBe('NONCE_GAP');
    // The store now says nonce 4; the sender goes on from 4 + 1.
    nonces.set(Buffer.from(alice.publicKey).toString('hex'), 4);
    expect(mp.admit(tx(5, { amount: 1 })).ok).toBe(true);
    expect(mp.takeReady(10).map((e) => e.nonce)).toEqual([5]);
  });

  describe('admission after verification reads LMDB again only where state may have moved', () => {
    let reads: number;
    const counting: CommittedView = {
      committedNonce: (pk) => (reads++, nonces.get(Buffer.from(pk).toString('hex'))),
      hasTx: (id) => (reads++, known.has(Buffer.from(id).toString('hex'))),
    };
    beforeEach(() => {
      reads = 0;
      mp = new Mempool({ chainId: CHAIN, capacity: 100, maxPerSender: 10, maxNonceGap: 10 }, counting);
    });

    it('a copy whose twin became final from this mempool while it verified is a duplicate, known from memory', () => {
      const t = tx(4);
      const since = mp.epoch();
      expect(mp.precheck(t).ok).toBe(true);
      // The twin (another submission of the same bytes) is admitted, sealed and rejected in a block
      // meanwhile (its nonce stays free, so only the id says it is final).
      expect(mp.admit(t).ok).toBe(true);
      mp.onCommitted(mp.takeReady(10), Uint8Array.from([RejectCode.INSUFFICIENT_FUNDS]));
      reads = 0;
      expect(mp.admit(t, 0, { prechecked: true, since })).toMatchObject({ ok: false, code: 'DUPLICATE' });
      expect(reads).toBe(0);
    });

    it("after a foreign block (another validator's batch) it asks LMDB", () => {
      const t = tx(4);
      const since = mp.epoch();
      expect(mp.precheck(t).ok).toBe(true);
      mp.noteForeignCommit();
      known.add(txId(t).toString('hex')); // the foreign block held the same transaction
      expect(mp.admit(t, 0, { prechecked: true, since })).toMatchObject({ ok: false, code: 'DUPLICATE' });
      expect(reads).toBeGreaterThan(0);
    });

    it("a settled sender's committed nonce is kept until a foreign block voids it", () => {
      expect(mp.admit(tx(4)).ok).toBe(true);
      mp.onCommitted(mp.takeReady(10), Uint8Array.from([0])); // nonce 4 committed; the queue settles
      reads = 0;
      expect(mp.precheck(tx(4, { amount: 6 }))).toMatchObject({ ok: false, code: 'NONCE_TOO_LOW' });
      expect(mp.precheck(tx(5)).ok).toBe(true);
      expect(reads).toBe(1); // the id look-up of nonce 5 only
      mp.noteForeignCommit();
      nonces.set(Buffer.from(alice.publicKey).toString('hex'), 7); // a foreign block moved it on
      expect(mp.precheck(tx(5))).toMatchObject({ ok: false, code: 'NONCE_TOO_LOW' });
    });
  });
});
