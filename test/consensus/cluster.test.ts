import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hex } from '../../src/consensus/types.js';
import { ed25519CryptoSet, idealCryptoSet } from '../../src/sim/sim-crypto.js';
import { Cluster } from './cluster.js';

const digest = (s: string): Uint8Array => new Uint8Array(createHash('sha256').update(s).digest());

describe('in-process 4-validator cluster', () => {
  it('commits batches on the happy path, identically on every node (real Ed25519)', () => {
    const c = new Cluster(4, ed25519CryptoSet(42, 4), { timeoutMs: 1_000, heartbeatMs: 100, delayMs: 5 });
    const batches = ['a', 'b', 'c', 'd', 'e'].map(digest);
    for (const d of batches) {
      c.inject(d);
      c.runUntil(c.now + 30);
    }
    c.runUntil(2_000);
    for (let i = 0; i < 4; i++) {
      const heights = c.commits[i]!.map((x) => x.block.height);
      expect(heights.length).toBeGreaterThan(5);
      expect(heights).toEqual(heights.map((_, k) => k + 1));
      const committed = new Set(c.commits[i]!.flatMap((x) => x.block.payload.map(hex)));
      for (const d of batches) expect(committed.has(hex(d))).toBe(true);
      // Each batch is ordered exactly once.
      expect(c.commits[i]!.flatMap((x) => x.block.payload).length).toBe(batches.length);
    }
    const chain0 = c.commits[0]!.map((x) => hex(x.block.hash));
    for (let i = 1; i < 4; i++) {
      const chain = c.commits[i]!.map((x) => hex(x.block.hash));
      const k = Math.min(chain.length, chain0.length);
      expect(chain.slice(0, k)).toEqual(chain0.slice(0, k));
    }
    // Every commit carries a QC that certifies exactly that block.
    for (const x of c.commits[0]!) expect(hex(x.qc.blockHash)).toBe(hex(x.block.hash));
  });

  it('after the leader crashes, another leader commits within about two timeouts', () => {
    const timeoutMs = 500;
    const c = new Cluster(4, idealCryptoSet(2, 4), { timeoutMs, heartbeatMs: 50, delayMs: 5 });
    c.runUntil(300);
    const status = c.cores[0]!.status();
    const crashed = status.leader;
    const crashAt = c.now;
    c.stop(crashed);
    const before = c.commits.map((x) => x.length);
    const fresh = digest('after-crash');
    c.inject(fresh);
    let committedAt: number | null = null;
    const alive = [0, 1, 2, 3].filter((i) => i !== crashed);
    for (let t = crashAt + 10; t <= crashAt + 4 * timeoutMs; t += 10) {
      c.runUntil(t);
      const done = alive.every((i) => c.commits[i]!.some((x) => x.block.payload.some((d) => hex(d) === hex(fresh))));
      if (done) {
        committedAt = t;
        break;
      }
    }
    expect(committedAt).not.toBeNull();
    // One timeout for the crashed leader's round, then a few network hops: well under 2 timeouts.
    expect(committedAt! - crashAt).toBeLessThanOrEqual(2 * timeoutMs + 100);
    for (const i of alive) expect(c.commits[i]!.length).toBeGreaterThan(before[i]!);
  });

  it('persists safety data in the same output as, and therefore before, every vote and timeout', () => {
    const c = new Cluster(4, idealCryptoSet(3, 4), { timeoutMs: 300, heartbeatMs: 50, delayMs: 5, loadEveryMs: 40 });
    c.runUntil(200);
    c.stop(c.cores[0]!.status().leader);
    c.runUntil(1_500);
    let guarded = 0;
    for (const { out } of c.outputs) {
      for (const s of out.send) {
        if (s.msg.type === 'vote' || s.msg.type === 'timeout') {
          // A vote/timeout for round r may only leave after lastVotedRound >= r is on disk.
          const r = s.msg.type === 'vote' ? s.msg.vote.round : s.msg.timeout.round;
          expect(out.persist).toBeDefined();
          expect(out.persist!.lastVotedRound).toBeGreaterThanOrEqual(r);
          guarded++;
        }
      }
    }
    expect(guarded).toBeGreaterThan(10);
  });
});
