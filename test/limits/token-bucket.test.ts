import { describe, expect, it } from 'vitest';
import { KeyedLimiter, TokenBucket } from '../../src/limits/token-bucket.js';

describe('TokenBucket', () => {
  it('allows a burst, then the refill rate, and says how long to wait', () => {
    const b = new TokenBucket(10, 5, 0);
    for (let i = 0; i < 5; i++) expect(b.take(0)).toBe(true);
    expect(b.take(0)).toBe(false);
    expect(b.waitMs(0)).toBe(100);
    expect(b.take(99)).toBe(false);
    expect(b.take(100)).toBe(true);
    // Never more than the burst, however long idle.
    let n = 0;
    while (b.take(1_000_000)) n++;
    expect(n).toBe(5);
  });

  it('takes nothing when a cost is refused', () => {
    const b = new TokenBucket(1, 10, 0);
    expect(b.take(0, 11)).toBe(false);
    expect(b.take(0, 10)).toBe(true);
  });
});

describe('KeyedLimiter', () => {
  it('limits each key on its own and bounds the number of keys', () => {
    const l = new KeyedLimiter<string>(1, 2, 100);
    expect(l.take('a', 0)).toBe(true);
    expect(l.take('a', 0)).toBe(true);
    expect(l.take('a', 0)).toBe(false);
    expect(l.take('b', 0)).toBe(true);
    for (let i = 0; i < 1_000; i++) l.take(`k${i}`, 0);
    expect(l.size).toBeLessThanOrEqual(100);
  });

  it('forgets idle keys', () => {
    const l = new KeyedLimiter<number>(10, 1);
    l.take(1, 0);
    l.take(2, 0);
    l.sweep(1_000);
    expect(l.size).toBe(0);
  });
});
