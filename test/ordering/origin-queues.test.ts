import { describe, expect, it } from 'vitest';
import { OriginQueues, knownOutcome, type QueueFacts } from '../../src/ordering/origin-queues.js';

describe("OriginQueues: an origin's batches reach the core in its seal order", () => {
  it('offers a batch certified at once, in push order', () => {
    const q = new OriginQueues<string>();
    expect(q.push(1, 'a')).toEqual([]);
    expect(q.settle('a', 'certified')).toEqual(['a']);
    expect(q.push(1, 'b', 'certified')).toEqual(['b']);
    expect(q.size).toBe(0);
  });

  it('holds a later batch certified first until every earlier one is certified or dropped', () => {
    const q = new OriginQueues<string>();
    q.push(1, 'a');
    q.push(1, 'b');
    q.push(1, 'c');
    expect(q.settle('c', 'certified')).toEqual([]);
    expect(q.settle('b', 'certified')).toEqual([]);
    expect(q.waiting()).toEqual([{ origin: 1, queued: 3, head: 'a' }]);
    expect(q.settle('a', 'certified')).toEqual(['a', 'b', 'c']);
    expect(q.waiting()).toEqual([]);
  });

  it('skips dropped batches: never offered, and they hold nothing back once settled', () => {
    const q = new OriginQueues<string>();
    q.push(1, 'a');
    q.push(1, 'b', 'certified');
    q.push(1, 'c');
    expect(q.settle('a', 'dropped')).toEqual(['b']);
    expect(q.settle('c', 'dropped')).toEqual([]);
    expect(q.size).toBe(0);
    expect(q.push(1, 'd', 'dropped')).toEqual([]);
    expect(q.push(1, 'e', 'certified')).toEqual(['e']);
  });

  it('origins are independent: one stuck origin holds back none of the others', () => {
    const q = new OriginQueues<string>();
    q.push(1, 'a1');
    q.push(2, 'a2');
    q.push(1, 'b1', 'certified');
    expect(q.settle('a2', 'certified')).toEqual(['a2']);
    expect(q.push(2, 'b2', 'certified')).toEqual(['b2']);
    expect(q.waiting()).toEqual([{ origin: 1, queued: 2, head: 'a1' }]);
  });

  it('ignores a key pushed twice (another copy of the batch) and a second outcome', () => {
    const q = new OriginQueues<string>();
    q.push(1, 'a');
    q.push(1, 'b');
    expect(q.push(1, 'a', 'certified')).toEqual([]);
    expect(q.push(2, 'b')).toEqual([]);
    expect(q.settle('b', 'dropped')).toEqual([]);
    expect(q.settle('b', 'certified')).toEqual([]);
    expect(q.settle('a', 'certified')).toEqual(['a']);
    // Popped: a later copy is a new batch in the queue again (the caller checks what it offered).
    expect(q.has('a')).toBe(false);
    expect(q.settle('a', 'certified')).toEqual([]);
    expect(q.settle('never-pushed', 'certified')).toEqual([]);
  });

  it('a long queue drained from its head one at a time keeps its order (compaction)', () => {
    const q = new OriginQueues<number>();
    for (let i = 0; i < 500; i++) q.push(3, i);
    for (let i = 499; i > 0; i--) expect(q.settle(i, i % 7 === 0 ? 'dropped' : 'certified')).toEqual([]);
    const out = q.settle(0, 'certified');
    expect(out).toEqual(Array.from({ length: 500 }, (_, i) => i).filter((i) => i === 0 || i % 7 !== 0));
    expect(q.size).toBe(0);
    const offered: number[] = [];
    for (let i = 0; i < 300; i++) q.push(4, i);
    for (let i = 0; i < 300; i++) offered.push(...q.settle(i, 'certified'));
    expect(offered).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(q.waiting()).toEqual([]);
  });
});

describe('knownOutcome: the outcome a batch joins its queue with (ConsensusOrderer and the simulator)', () => {
  const facts = (truths: (keyof QueueFacts)[]): QueueFacts => ({
    offered: () => truths.includes('offered'),
    ordered: () => truths.includes('ordered'),
    held: () => truths.includes('held'),
    refused: () => truths.includes('refused'),
    certified: () => truths.includes('certified'),
  });

  it('offered: certified; ordered (committed or in the ledger): dropped even when held and certified', () => {
    expect(knownOutcome(facts(['offered', 'ordered']))).toBe('certified');
    expect(knownOutcome(facts(['ordered', 'held', 'certified']))).toBe('dropped');
  });

  it('gone before its turn (never held, or refused here): dropped; held: certified once certified, else still to come', () => {
    expect(knownOutcome(facts([]))).toBe('dropped');
    expect(knownOutcome(facts(['certified']))).toBe('dropped');
    expect(knownOutcome(facts(['held', 'refused']))).toBe('dropped');
    expect(knownOutcome(facts(['held', 'certified']))).toBe('certified');
    expect(knownOutcome(facts(['held']))).toBeUndefined();
  });

  it('asks only as far as it needs (a store read for `ordered` is skipped once offered)', () => {
    const asked: string[] = [];
    const spy = (name: string, v: boolean) => () => (asked.push(name), v);
    knownOutcome({ offered: spy('offered', true), ordered: spy('ordered', false), held: spy('held', true), refused: spy('refused', false), certified: spy('certified', true) });
    expect(asked).toEqual(['offered']);
  });
});
