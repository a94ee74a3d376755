import { describe, expect, it } from 'vitest';
import { OriginOrderCheck } from '../../src/sim/origin-order.js';

/** Origin 0 (honest) seals a0..a3; origin 2 is Byzantine. */
function check() {
  const alarms: string[] = [];
  const originOf = new Map([...['a0', 'a1', 'a2', 'a3'].map((k) => [k, 0] as const), ['z0', 2] as const]);
  const seqOf = new Map([
    ['a0', 0],
    ['a1', 1],
    ['a2', 2],
    ['a3', 3],
    ['z0', 0],
  ]);
  const c = new OriginOrderCheck({ validators: 3, byzantine: (i) => i === 2, originOf, seqOf, alarm: (node, what) => alarms.push(`${node}: ${what}`) });
  return { c, alarms };
}

describe('OriginOrderCheck (the simulator’s origin-order invariant)', () => {
  it('alarms on an honest origin’s batch offered after a later one, at an honest node only', () => {
    const { c, alarms } = check();
    for (const node of [1, 2]) {
      c.offered(node, 'a1');
      c.offered(node, 'a0');
    }
    expect(alarms).toEqual(["1: offered origin 0's batch 0 to the core after its batch 1 (out of seal order)"]);
    expect(c.queueOffers).toBe(2);
  });

  it('not across a gap the sequencer gave up on; a crash forgets the node’s record', () => {
    const { c, alarms } = check();
    c.released(1, 0, 'a0');
    c.released(1, 0, 'a2'); // a1 given up on
    expect(c.sequencerGiveUps).toBe(1);
    c.offered(1, 'a2');
    c.offered(1, 'a1');
    expect(alarms).toEqual([]);
    c.crashed(1);
    c.offered(1, 'a3');
    c.offered(1, 'a1'); // the give-up is gone with the crash
    expect(alarms).toHaveLength(1);
    c.offered(1, 'z0'); // a Byzantine origin: not checked
    expect(c.queueOffers).toBe(4);
  });
});
