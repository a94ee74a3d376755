import { describe, expect, it } from 'vitest';
import { peersForQuorum } from '../../src/node/validator-set.js';
import { faultTolerance } from '../../src/consensus/index.js';

describe("validator readiness needs the core's quorum", () => {
  it("counts peers as the core counts votes, for every set size of the documents' topologies", () => {
    expect(peersForQuorum(4)).toBe(2);
    expect(peersForQuorum(5)).toBe(3);
    expect(peersForQuorum(20)).toBe(13); // quorum 14 = floor(40 / 3) + 1; the old rule said 12
    expect(peersForQuorum(30)).toBe(20);
    for (let n = 1; n <= 100; n++) expect(peersForQuorum(n) + 1).toBe(faultTolerance(n).quorum);
  });
});
