import { describe, expect, it } from 'vitest';
import { layoutTopology } from '../../src/cluster/topology.js';
import { type Acknowledged, type BlockAtHeight, compareAtHeight, formatTable, missingOn, processLoss, sampleAcknowledged, type TxSeen } from '../../src/e2e/checks.js';

/** The verdicts of the e2e runner, each shown a wrong input it must catch. Pure: nothing starts. */
const block = (node: string, hash = 'aa', stateRoot = 'bb', height = 7): BlockAtHeight => ({ node, height, hash, stateRoot });

describe('e2e consistency: compareAtHeight', () => {
  it('agrees when every node holds one hash and state root at the height', () => {
    const a = compareAtHeight(7, [block('v0'), block('b0'), block('s0')]);
    expect(a).toMatchObject({ agree: true, hash: 'aa', stateRoot: 'bb', nodes: 3, mismatches: [] });
  });
  it('catches one node with another block hash, another state root, or another height', () => {
    const hash = compareAtHeight(7, [block('v0'), block('v1'), block('b0', 'ff')]);
    expect(hash.agree).toBe(false);
    expect(hash.hash).toBe('aa'); // the majority is the reference, the odd one is named
    expect(hash.mismatches).toEqual([expect.stringMatching(/^b0: height 7 hash ff/)]);
    const root = compareAtHeight(7, [block('v0'), block('v1'), block('s0', 'aa', 'cc')]);
    expect(root.agree).toBe(false);
    expect(root.mismatches[0]).toMatch(/^s0: .*stateRoot cc/);
    expect(compareAtHeight(7, [block('v0'), block('v1', 'aa', 'bb', 8)]).agree).toBe(false);
  });
  it('does not agree on nothing', () => {
    expect(compareAtHeight(7, []).agree).toBe(false);
  });
});

describe('e2e failover: processLoss', () => {
  it('option-b loses 5 of 20 validators with one process and survives (f = 6, quorum 14)', () => {
    const t = layoutTopology({ topology: 'option-b', dir: '/nonexistent/e2e' });
    expect(processLoss(t, 'pv1')).toMatchObject({ validatorsLost: 5, validators: 20, f: 6, quorum: 14, tolerated: true, spare: 1 });
    expect(processLoss(t, 'pv1').nodes).toEqual(['v5', 'v6', 'v7', 'v8', 'v9']);
    const c = layoutTopology({ topology: 'option-c', dir: '/nonexistent/e2e' });
    expect(processLoss(c, 'pv0')).toMatchObject({ validatorsLost: 6, validators: 30, f: 9, quorum: 21, tolerated: true, spare: 3 });
  });
  it('4 validators by 2 per process cannot lose a process; a business process costs no validator', () => {
    const t = layoutTopology({ validators: 4, business: 1, slim: 1, perProcess: 2, dir: '/nonexistent/e2e' });
    expect(processLoss(t, 'pv0')).toMatchObject({ validatorsLost: 2, validators: 4, f: 1, quorum: 3, tolerated: false, spare: -1 });
    expect(processLoss(t, 'b0')).toMatchObject({ validatorsLost: 0, tolerated: true });
  });
});

describe('e2e transactions: sampling and lookup', () => {
  const acks: Acknowledged[] = Array.from({ length: 1000 }, (_, i) => ({ id: `t${i}`, height: 1 + Math.floor(i / 100), sender: `a${i % 10}` }));
  it('samples the asked number plus the last transfer of every sender', () => {
    const s = sampleAcknowledged(acks, 50);
    const ids = new Set(s.map((a) => a.id));
    expect(ids.size).toBe(s.length);
    for (let k = 0; k < 10; k++) expect(ids.has(`t${990 + k}`)).toBe(true);
    expect(s.length).toBeGreaterThanOrEqual(50);
    expect(s.length).toBeLessThanOrEqual(60);
  });
  it('names a node that does not know the transfer, holds it pending, or committed it at another height', () => {
    const ack = acks[5]!;
    const seen = new Map<string, TxSeen>([
      ['v0', { status: 'committed', height: 1 }],
      ['b0', undefined],
      ['s0', { status: 'pending' }],
      ['v1', { status: 'committed', height: 2 }],
    ]);
    expect(missingOn(ack, seen)).toEqual(['b0: unknown', 's0: pending', 'v1: committed at 2, acknowledged at 1']);
    expect(missingOn(ack, new Map([['v0', { status: 'committed', height: 1 }]]))).toEqual([]);
  });
});

describe('e2e table', () => {
  it('prints one row per category with PASS/FAIL, figure and time', () => {
    const t = formatTable([
      { category: 'connectivity', pass: true, figure: '6/6 nodes UP', seconds: 5.04, failures: [], details: {} },
      { category: 'consistency', pass: false, figure: 'disagreement', seconds: 0.2, failures: ['x'], details: {} },
    ]);
    const lines = t.split('\n');
    expect(lines).toHaveLength(4);
    expect(lines[2]).toMatch(/^\| connectivity +\| PASS +\| 6\/6 nodes UP +\| 5\.0 s \|$/);
    expect(lines[3]).toMatch(/\| consistency +\| FAIL +\| disagreement/);
  });
});
