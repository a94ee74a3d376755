import { describe, it, expect } from 'vitest';
import { BatchSequencer } from '../../src/ordering/batch-sequencer.js';

const b = (seq: number, boot = 7) => ({ boot, seq, item: `b${seq}` });

describe("BatchSequencer: one origin's batches in seal order", () => {
  it('passes batches straight through while they come in order', () => {
    const s = new BatchSequencer<string>();
    expect(s.receive(1, b(10))).toEqual({ release: ['b10'] });
    expect(s.receive(1, b(11))).toEqual({ release: ['b11'] });
    expect(s.gaps()).toEqual([]);
  });

  it('holds batches behind a gap, asks the origin for the missing ones, releases in order when they come', () => {
    const s = new BatchSequencer<string>();
    s.receive(1, b(1));
    expect(s.receive(1, b(4))).toEqual({ release: [], request: { origin: 1, boot: 7, from: 2, to: 3 } });
    expect(s.receive(1, b(5))).toEqual({ release: [] });
    expect(s.gaps()).toEqual([{ origin: 1, from: 2, held: 2 }]);
    expect(s.receive(1, b(3))).toEqual({ release: [] });
    expect(s.receive(1, b(2))).toEqual({ release: ['b2', 'b3', 'b4', 'b5'] });
    expect(s.gaps()).toEqual([]);
    expect(s.receive(1, b(6))).toEqual({ release: ['b6'] });
  });

  it('keeps origins apart', () => {
    const s = new BatchSequencer<string>();
    s.receive(1, b(1));
    s.receive(2, b(1));
    expect(s.receive(1, b(3)).release).toEqual([]);
    expect(s.receive(2, b(2)).release).toEqual(['b2']);
  });

  it('re-asks for an open gap on every tick and never gives it up on a timer: later batches wait until it fills', () => {
    const s = new BatchSequencer<string>(64);
    s.receive(1, b(1));
    s.receive(1, b(3));
    s.receive(1, b(4));
    expect(s.tick()).toEqual({ requests: [{ origin: 1, boot: 7, from: 2, to: 2 }] });
    // Before: given up after the timeout, b3 and b4 went ahead of b2 (its senders' nonces rejected).
    expect(s.tick()).toEqual({ requests: [{ origin: 1, boot: 7, from: 2, to: 2 }] });
    expect(s.receive(1, b(2))).toEqual({ release: ['b2', 'b3', 'b4'] });
    expect(s.tick()).toEqual({ requests: [] });
  });

  it('drops batches beyond its bound behind a gap (as if lost) and asks for them once the gap fills', () => {
    const s = new BatchSequencer<string>(2);
    s.receive(1, b(1));
    s.receive(1, b(3));
    s.receive(1, b(4));
    expect(s.receive(1, b(5)).release).toEqual([]); // not kept
    expect(s.dropped).toBe(1);
    expect(s.receive(1, b(2)).release).toEqual(['b2', 'b3', 'b4']);
    expect(s.tick()).toEqual({ requests: [{ origin: 1, boot: 7, from: 5, to: 5 }] });
    expect(s.receive(1, b(5)).release).toEqual(['b5']);
  });

  it("skips only what fell out of the origin's resend window, releasing what it held in order", () => {
    const s = new BatchSequencer<string>(64, 10);
    s.receive(1, b(1));
    s.receive(1, b(3));
    expect(s.receive(1, b(11)).release).toEqual([]); // the origin still keeps 2..11
    // At 12 it keeps 3..12 only: b2 can no longer be asked for; b3 goes, the gap 4..11 stays open.
    expect(s.receive(1, b(12)).release).toEqual(['b3']);
    expect(s.skipped).toBe(1);
    expect(s.gaps()).toEqual([{ origin: 1, from: 4, held: 2 }]);
  });

  it('starts over when the origin restarts with a new boot id', () => {
    const s = new BatchSequencer<string>();
    s.receive(1, b(1, 7));
    s.receive(1, b(5, 7));
    expect(s.receive(1, b(1, 8)).release).toEqual(['b1']);
    expect(s.gaps()).toEqual([]);
    expect(s.receive(1, b(2, 8)).release).toEqual(['b2']);
  });
});
