import { describe, expect, it } from 'vitest';
import { ConsensusCore } from '../../src/consensus/core.js';
import { ForwardSync, SYNC_CHUNK } from '../../src/consensus/forward-sync.js';
import { hex, makeBlock, type Block, type ConsensusMessage } from '../../src/consensus/types.js';
import { idealCryptoSet } from '../../src/sim/sim-crypto.js';
import { Cluster } from './cluster.js';

const N = 4;
const LAGGARD = 3;
/** Node 3 never leads, so the other three run at full speed while it is down. */
const withoutLaggard = { leader: (round: number) => round % 3 };
const fake = new Uint8Array(32).fill(0xfa);

type Tamper = (from: number, to: number, msg: ConsensusMessage) => ConsensusMessage | null;

/**
 * Runs a cluster until node 3, stopped early, is more than `behind` blocks behind the others,
 * then restarts it from its persisted root and safety data only.
 */
function laggingCluster(opts: { seed: number; behind: number; servesChain: boolean; tamper?: Tamper }): { c: Cluster; tipAtRestart: number } {
  const c = new Cluster(N, idealCryptoSet(opts.seed, N), {
    timeoutMs: 200,
    heartbeatMs: 5,
    delayMs: 1,
    core: { leaderElection: withoutLaggard, retainCommitted: 1_000 },
    servesChain: opts.servesChain,
    tamper: opts.tamper,
    loadEveryMs: 2,
  });
  c.runUntil(100);
  c.stop(LAGGARD);
  const mine = c.commits[LAGGARD]!.length;
  while (c.commits[0]!.length - mine <= opts.behind) c.runUntil(c.now + 1_000);
  c.restart(LAGGARD, { safety: c.persisted[LAGGARD], root: c.commits[LAGGARD]!.at(-1) });
  return { c, tipAtRestart: c.commits[0]!.length };
}

const hashes = (c: Cluster, i: number): string[] => c.commits[i]!.map((x) => hex(x.block.hash));

describe('forward sync of committed blocks', () => {
  it('a node 2,500 blocks behind peers that keep 1,000 in memory catches up from their stored chain', () => {
    const { c, tipAtRestart } = laggingCluster({ seed: 21, behind: 2_500, servesChain: true });
    const before = c.commits[LAGGARD]!.length;
    expect(tipAtRestart - before).toBeGreaterThan(2_500);
    c.runUntil(c.now + 3_000);
    const mine = hashes(c, LAGGARD);
    expect(mine.length).toBeGreaterThanOrEqual(tipAtRestart);
    expect(c.commits[LAGGARD]!.map((x) => x.block.height)).toEqual(mine.map((_, k) => k + 1));
    expect(mine).toEqual(hashes(c, 0).slice(0, mine.length));
    // Caught up for real: it takes part again (votes count towards new QCs on the others).
    const outs = c.outputs.filter((o) => o.node === LAGGARD);
    expect(outs.some((o) => o.out.send.some((s) => s.msg.type === 'vote'))).toBe(true);
    // Forward sync did it: chunks were asked for from just above the old root on.
    const asked = outs.flatMap((o) => o.out.send.map((s) => s.msg)).filter((m) => m.type === 'sync-request');
    expect(asked[0]).toMatchObject({ fromHeight: before + 1, count: SYNC_CHUNK });
    expect(asked.length).toBeGreaterThan(2_500 / SYNC_CHUNK);
  }, 60_000);

  it('without the stored chain the same node cannot catch up (peers only have their last 1,000 blocks)', () => {
    const { c, tipAtRestart } = laggingCluster({ seed: 21, behind: 1_050, servesChain: false });
    const before = c.commits[LAGGARD]!.length;
    c.runUntil(c.now + 3_000);
    expect(c.commits[LAGGARD]!.length).toBe(before);
    expect(c.commits[0]!.length).toBeGreaterThan(tipAtRestart);
  }, 60_000);

  it('a Byzantine responder cannot make it commit blocks nobody certified, and a silent one is skipped', () => {
    let forged = 0;
    const tamper: Tamper = (from, to, msg) => {
      if (to !== LAGGARD || msg.type !== 'sync-response' || msg.blocks.length === 0) return msg;
      if (from === 2) return { type: 'sync-response', blocks: [] }; // claims to have nothing
      if (from === 0) return forged >= 4 ? msg : null; // silent until node 1 had its turns

      forged++;
      // Valid hash, valid QC for its parent, but a payload nobody proposed or voted for.
      const blocks = [...msg.blocks];
      const last = blocks[blocks.length - 1]!;
      const { hash: _h, ...header } = last;
      blocks[blocks.length - 1] = makeBlock({ ...header, payload: [fake] });
      if (forged % 2 === 0) {
        // And a block in the middle whose QC lacks real signatures.
        const mid = blocks[Math.floor(blocks.length / 2)]!;
        const { hash: _m, ...h2 } = mid;
        blocks[Math.floor(blocks.length / 2)] = makeBlock({ ...h2, qc: { ...mid.qc, signatures: mid.qc.signatures.map((s) => ({ ...s, sig: new Uint8Array(64) })) } });
      }
      return { type: 'sync-response', blocks };
    };
    const { c, tipAtRestart } = laggingCluster({ seed: 22, behind: 1_500, servesChain: true, tamper });
    c.runUntil(c.now + 5_000);
    expect(forged).toBeGreaterThanOrEqual(4);
    const mine = hashes(c, LAGGARD);
    expect(mine.length).toBeGreaterThanOrEqual(tipAtRestart);
    expect(mine).toEqual(hashes(c, 0).slice(0, mine.length));
    const outs = c.outputs.filter((o) => o.node === LAGGARD).map((o) => o.out);
    expect(outs.some((o) => o.events.some((e) => e.type === 'invalid' && e.reason.startsWith('sync-response')))).toBe(true);
    // The forged last blocks were never even stored, let alone committed.
    const stored = outs.flatMap((o) => o.persistBlocks);
    expect(stored.some((b) => b.payload.some((d) => hex(d) === hex(fake)))).toBe(false);
  }, 60_000);

  it('serves committed blocks from memory and then from the stored chain, oldest first, never beyond its root', () => {
    const c = new Cluster(N, idealCryptoSet(23, N), { timeoutMs: 200, heartbeatMs: 5, delayMs: 1, core: { retainCommitted: 10 }, servesChain: true, loadEveryMs: 5 });
    c.runUntil(1_000);
    const root = c.commits[0]!.length;
    expect(root).toBeGreaterThan(40);
    const ask = (fromHeight: number, count: number): Block[] => {
      const out = c.cores[0]!.onMessage(1, { type: 'sync-request', fromHeight, count }, c.now);
      const msg = out.send.find((s) => s.to === 1)!.msg;
      return msg.type === 'sync-response' ? msg.blocks : [];
    };
    const old = ask(1, 200);
    expect(old.map((b) => b.height)).toEqual(Array.from({ length: Math.min(SYNC_CHUNK, root) }, (_, k) => k + 1));
    expect(old.map((b) => hex(b.hash))).toEqual(hashes(c, 0).slice(0, old.length));
    expect(ask(root - 2, 64).map((b) => b.height)).toEqual([root - 2, root - 1, root]);
    expect(ask(root + 1, 64)).toEqual([]);
    // A hole in the stored chain (a write lost in a crash) ends the answer there.
    c.chains[0]!.delete(5);
    expect(ask(1, 64).map((b) => b.height)).toEqual([1, 2, 3, 4]);
  });

  it('ignores sync-responses nobody asked for, without looking at them', () => {
    const cryptos = idealCryptoSet(24, N);
    const core = new ConsensusCore({ chainId: 1, validators: N, self: 0, timeoutMs: 200, heartbeatMs: 50, crypto: cryptos[0]! });
    core.start(0);
    const c = new Cluster(N, idealCryptoSet(24, N), { timeoutMs: 200, heartbeatMs: 5, delayMs: 1, loadEveryMs: 5 });
    c.runUntil(300);
    const blocks = c.commits[1]!.slice(0, 10).map((x) => x.block);
    const out = core.onMessage(1, { type: 'sync-response', blocks }, 1);
    expect(out.persistBlocks).toEqual([]);
    expect(out.commits).toEqual([]);
    expect(out.events).toEqual([]);
  });
});

describe('ForwardSync', () => {
  const target = (height: number | null) => ({ hash: new Uint8Array(32), peer: 1, height });

  it('asks one peer, rotates on no answer, and gives up after every other validator failed', () => {
    const s = new ForwardSync(0, 4, 100, 32);
    expect(s.start(11, 2, target(5_000), 0)).toEqual({ peer: 2, fromHeight: 11, count: SYNC_CHUNK });
    expect(s.start(11, 3, target(6_000), 1)).toBeNull(); // one run at a time
    expect(s.expecting(2)).toBe(11);
    expect(s.expecting(3)).toBeNull();
    expect(s.due(99)).toBe(false);
    expect(s.due(100)).toBe(true);
    expect(s.miss(100)).toEqual({ peer: 3, fromHeight: 11, count: SYNC_CHUNK });
    expect(s.miss(200)).toEqual({ peer: 1, fromHeight: 11, count: SYNC_CHUNK }); // skips itself
    expect(s.miss(300)).toBeNull();
    expect(s.finish()?.height).toBe(6_000);
    expect(s.active).toBe(false);
  });

  it('continues while chunks are full and the target is far, and stops within reach of it', () => {
    const s = new ForwardSync(0, 4, 100, 32);
    s.start(1, 1, target(200), 0);
    expect(s.progress(64, true, 10)).toEqual({ peer: 1, fromHeight: 64, count: SYNC_CHUNK });
    expect(s.progress(127, true, 20)).toEqual({ peer: 1, fromHeight: 127, count: SYNC_CHUNK });
    expect(s.progress(190, true, 30)).toBeNull(); // 200 - 189 <= 32: one backward request reaches it
    const t = new ForwardSync(0, 4, 100, 32);
    t.start(1, 1, target(null), 0);
    expect(t.progress(30, false, 10)).toBeNull(); // short chunk, no known target: the responder's tip
    const u = new ForwardSync(0, 4, 100, 32);
    u.start(1, 1, target(1_000), 0);
    // Short chunk far below a known target: that peer's store ends early; ask the next one.
    expect(u.progress(30, false, 10)).toEqual({ peer: 2, fromHeight: 30, count: SYNC_CHUNK });
  });
});
