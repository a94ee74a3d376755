import { performance } from 'node:perf_hooks';
import { hex, type ConsensusOutput } from '../consensus/index.js';

export type ConsensusStage = 'propose' | 'commit' | 'safety_fsync';

/**
 * Times a validator's consensus stages for hotledger_stage_seconds: a local batch from submission
 * until a block carrying it is seen ('propose'), and a block from first seen until it commits
 * ('commit'). Bounded: forks and blocks that never commit age out.
 */
export class ConsensusStageTimer {
  private readonly submittedAt = new Map<string, number>();
  private readonly seenAt = new Map<string, number>();

  constructor(private readonly observe: (stage: ConsensusStage, ms: number) => void) {}

  submitted(digest: Uint8Array): void {
    if (this.submittedAt.size < 10_000) this.submittedAt.set(hex(digest), performance.now());
  }

  output(out: ConsensusOutput): void {
    const now = performance.now();
    for (const b of out.persistBlocks) {
      this.seenAt.set(hex(b.hash), now);
      for (const d of b.payload) {
        const at = this.submittedAt.get(hex(d));
        if (at === undefined) continue;
        this.submittedAt.delete(hex(d));
        this.observe('propose', now - at);
      }
    }
    for (const c of out.commits) {
      const key = hex(c.block.hash);
      const at = this.seenAt.get(key);
      this.seenAt.delete(key);
      if (at !== undefined && c.block.payload.length > 0) this.observe('commit', now - at);
    }
    if (this.seenAt.size > 1_000) for (const [k, t] of this.seenAt) if (now - t > 60_000) this.seenAt.delete(k);
  }
}
