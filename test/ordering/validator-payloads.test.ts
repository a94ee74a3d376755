import { describe, expect, it } from 'vitest';
import { genesisBlock, genesisQc, hex, makeBlock, type Block, type CommittedBlock } from '../../src/consensus/types.js';
import { MAX_DIGESTS_PER_REQUEST, ValidatorPayloads } from '../../src/ordering/validator-payloads.js';

const CHAIN = 3;
const T = 200;
const digest = (n: number): Uint8Array => new Uint8Array(32).fill(n);

function chain(payloads: number[][], proposer = 2): CommittedBlock[] {
  let parent: Block = genesisBlock(CHAIN);
  return payloads.map((p, i) => {
    const block = makeBlock({
      chainId: CHAIN,
      round: i + 1,
      height: parent.height + 1,
      parentHash: parent.hash,
      qc: parent.height === 0 ? genesisQc(CHAIN) : { round: parent.round, blockHash: parent.hash, signatures: [] },
      payload: p.map(digest),
      proposer,
      parentStateRoot: new Uint8Array(32),
      timestampMs: 0,
    });
    parent = block;
    return { block, qc: { round: block.round, blockHash: block.hash, signatures: [] } };
  });
}

function validator(opts: Partial<ConstructorParameters<typeof ValidatorPayloads>[0]> = {}): ValidatorPayloads {
  const v = new ValidatorPayloads({ self: 1, timeoutMs: T, appliedRound: 0, ...opts });
  for (const p of [0, 2, 3]) v.peerUp(p, 0);
  return v;
}

describe('ValidatorPayloads', () => {
  it('delivers committed blocks in order, each only once all of its batches are here', () => {
    const v = validator();
    const [a, b, c] = chain([[1, 2], [], [3]]);
    v.batchAvailable(digest(3), 0);
    let out = v.committed([a!, b!, c!], 10);
    expect(out.deliver).toEqual([]);
    // Block 1 waits for both batches; block 3's batch being here does not let it overtake.
    expect(out.requests).toEqual([{ to: 2, digests: [digest(1), digest(2)] }]);
    expect(out.persistUnapplied?.map((x) => x.block.height)).toEqual([1, 3]);
    expect(v.batchAvailable(digest(1), 20).deliver).toEqual([]);
    out = v.batchAvailable(digest(2), 30);
    expect(out.deliver.map((d) => d.block.height)).toEqual([1, 3]);
    expect(out.deliver[0]!.digests.map(hex)).toEqual([hex(digest(1)), hex(digest(2))]);
    expect(out.release.map(hex).sort()).toEqual([1, 2, 3].map((n) => hex(digest(n))).sort());
    expect(out.timer).toBeNull();
  });

  it("tells a delivered block's batches (released, not needed again) from those of blocks still queued", () => {
    const v = validator();
    const [a, b] = chain([[1], [2]]);
    v.committed([a!, b!], 0);
    expect([1, 2].map((n) => [v.ordered(digest(n)), v.delivered(digest(n))])).toEqual([
      [true, false],
      [true, false],
    ]);
    expect(v.batchAvailable(digest(1), 1).release.map(hex)).toEqual([hex(digest(1))]);
    expect(v.delivered(digest(1))).toBe(true);
    expect(v.delivered(digest(2))).toBe(false); // its block waits: a copy of it is still needed
    expect(v.delivered(digest(3))).toBe(false);
  });

  it('asks the proposer first, then the other validators in turn, each after a retry period', () => {
    const v = validator();
    const [a] = chain([[7]]);
    const asked: number[] = [];
    let out = v.committed([a!], 0);
    asked.push(...out.requests.map((r) => r.to));
    // An arrival of something else does not repeat the request before the retry period.
    expect(v.batchAvailable(digest(9), 10).requests).toEqual([]);
    for (let t = 1; t <= 5; t++) {
      out = v.onTick(out.timer!.at);
      asked.push(...out.requests.map((r) => r.to));
    }
    expect(asked[0]).toBe(2);
    expect(new Set(asked.slice(1, 4))).toEqual(new Set([0, 2, 3]));
    expect(asked).toHaveLength(6);
    expect(v.wanted(digest(7))).toBe(true);
    expect(v.wanted(digest(8))).toBe(false);
    // Waiting longer than 2 timeouts is reported, with whom it asked.
    expect(out.events.at(-1)).toMatchObject({ type: 'waiting-batches', height: 1, askedOf: asked.at(-1) });
  });

  it('never asks itself, asks nobody while no validator is connected, and asks once one is', () => {
    const v = new ValidatorPayloads({ self: 1, timeoutMs: T, appliedRound: 0 });
    const [a] = chain([[5]], 1);
    const out = v.committed([a!], 0);
    expect(out.requests).toEqual([]);
    expect(out.timer).not.toBeNull();
    expect(v.peerUp(1, 1).requests).toEqual([]);
    expect(v.peerUp(3, 2).requests).toEqual([{ to: 3, digests: [digest(5)] }]);
  });

  it('splits a large request and bounds the digests it remembers', () => {
    const v = validator();
    const many = Array.from({ length: 3 * MAX_DIGESTS_PER_REQUEST }, (_, i) => new Uint8Array(32).fill(0).map((_, j) => (j < 2 ? (i >> (8 * j)) & 255 : 9)));
    const out = v.fetch(many, 2, 0);
    expect(out.requests.map((r) => r.digests.length)).toEqual([64, 64, 64]);
    // Far more than its bound, each asked once and never answered: older ones are forgotten.
    for (let k = 0; k < 20; k++) {
      const batch = Array.from({ length: 64 }, (_, i) => new Uint8Array(32).fill(k + 10).map((x, j) => (j === 0 ? i : x)));
      v.fetch(batch, 2, k * 10);
    }
    expect(v.wanted(many[0]!)).toBe(false);
  });

  it('skips blocks the ledger applied before a restart, and re-queues the committed but unapplied ones first', () => {
    const [a, b, c, d] = chain([[1], [2], [3], [4]]);
    // Restart: the ledger is at round 2; the list written with the root still names rounds 1-3.
    const v = validator({ appliedRound: 2, unapplied: [a!, b!, c!] });
    expect(v.queued).toBe(1);
    expect(v.ordered(digest(3))).toBe(true);
    // The restarted core commits from its root on: round 2 again (skipped), then round 4.
    const delivered: number[] = [];
    for (const n of [3, 4, 2]) delivered.push(...v.batchAvailable(digest(n), 0).deliver.map((x) => x.block.round));
    delivered.push(...v.committed([b!, d!], 5).deliver.map((x) => x.block.round));
    expect(delivered).toEqual([3, 4]);
    expect(v.ordered(digest(4))).toBe(true);
    expect(v.ordered(digest(5))).toBe(false);
    // Applied rounds leave the list written with the next commit.
    v.applied(4, 6);
    const [, , , , e] = chain([[1], [2], [3], [4], [5]]);
    expect(v.committed([e!], 7).persistUnapplied?.map((x) => x.block.round)).toEqual([5]);
  });

  it('test-only unsafeDeliverIncomplete delivers a block whose batches are missing', () => {
    const v = validator({ unsafeDeliverIncomplete: true });
    const [a] = chain([[1]]);
    expect(v.committed([a!], 0).deliver).toHaveLength(1);
    expect(validator().committed([a!], 0).deliver).toHaveLength(0);
  });
});
