import { describe, it, expect } from 'vitest';
import { BatchSequencer } from '../../src/ordering/batch-sequencer.js';

const b = (seq: number, boot = 7) => ({ boot, seq, item: `b${seq}` });

describe("BatchSequencer: one origin's batches in seal order", () => {
  it('passes batches straight through while they come in order', () => {
    const s = new BatchSequencer<string>();
    expect(s.receive(1, b(10), 0)).toEqual({ release: ['b10'] });
    expect(s.receive(1, b(11), 0)).toEqual({ release: ['b11'] });
    expect(s.gaps()).toEqual([]);
  });

  it('holds batches behind a gap, asks the origin for the missing ones, releases in order when they come', () => {
    const s = new BatchSequencer<string>();
    s.receive(1, b(1), 0);
    expect(s.receive(1, b(4), 5)).toEqual({ release: [], request: { origin: 1, boot: 7, from: 2, to: 3 } });
    expect(s.receive(1, b(5), 6)).toEqual({ release: [] });
    expect(s.gaps()).toEqual([{ origin: 1, from: 2, held: 2 }]);
    expect(s.receive(1, b(3), 7)).toEqual({ release: [] });
    expect(s.receive(1, b(2), 8)).toEqual({ release: ['b2', 'b3', 'b4', 'b5'] });
    expect(s.gaps()).toEqual([]);
    expect(s.receive(1, b(6), 9)).toEqual({ release: ['b6'] });
  });

  it('keeps origins apart', () => {
    const s = new BatchSequencer<string>();
    s.receive(1, b(1), 0);
    s.receive(2, b(1), 0);
    expect(s.receive(1, b(3), 0).release).toEqual([]);
    expect(s.receive(2, b(2), 0).release).toEqual(['b2']);
  });

  it('re-asks for an open gap on tick and gives it up after the timeout, releasing in order', () => {
    const s = new BatchSequencer<string>(64, 100);
    s.receive(1, b(1), 0);
    s.receive(1, b(3), 10);
    s.receive(1, b(4), 20);
    expect(s.tick(50)).toEqual({ release: [], requests: [{ origin: 1, boot: 7, from: 2, to: 2 }] });
    expect(s.tick(110)).toEqual({ release: [{ origin: 1, items: ['b3', 'b4'] }], requests: [] });
    // The skipped batch arriving late is passed through (dropped by digest if already ordered).
    expect(s.receive(1, b(2), 120)).toEqual({ release: ['b2'] });
    expect(s.receive(1, b(5), 130)).toEqual({ release: ['b5'] });
  });

  it('gives up a gap when too many batches pile up behind it', () => {
    const s = new BatchSequencer<string>(2, 10_000);
    s.receive(1, b(1), 0);
    s.receive(1, b(3), 0);
    s.receive(1, b(4), 0);
    expect(s.receive(1, b(5), 0).release).toEqual(['b3', 'b4', 'b5']);
  });

  it('starts over when the origin restarts with a new boot id', () => {
    const s = new BatchSequencer<string>();
    s.receive(1, b(1, 7), 0);
    s.receive(1, b(5, 7), 0);
    expect(s.receive(1, b(1, 8), 0).release).toEqual(['b1']);
    expect(s.gaps()).toEqual([]);
    expect(s.receive(1, b(2, 8), 0).release).toEqual(['b2']);
  });
});
