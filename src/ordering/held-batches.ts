import type { VerifiedBatch } from './orderer.js';

export interface OriginLoad {
  batches: number;
  bytes: number;
}

/** Batches and bytes per origin, kept by charging and releasing; an origin back at zero is forgotten. */
export class OriginLoads {
  private readonly load = new Map<number, OriginLoad>();

  get(origin: number): OriginLoad {
    return this.load.get(origin) ?? { batches: 0, bytes: 0 };
  }

  charge(origin: number, batches: number, bytes: number): void {
    const l = this.load.get(origin) ?? { batches: 0, bytes: 0 };
    l.batches += batches;
    l.bytes += bytes;
    if (l.batches <= 0) this.load.delete(origin);
    else this.load.set(origin, l);
  }
}

/**
 * The batches a validator holds until their block is applied, by digest (hex), with what each
 * peer's share of them costs. The per-origin load is derived from the map itself on every set and
 * delete, so it cannot drift from what is really held.
 */
export class HeldBatches {
  private readonly byDigest = new Map<string, VerifiedBatch>();
  private readonly load = new OriginLoads();

  get size(): number {
    return this.byDigest.size;
  }

  has(key: string): boolean {
    return this.byDigest.has(key);
  }

  get(key: string): VerifiedBatch | undefined {
    return this.byDigest.get(key);
  }

  set(key: string, vb: VerifiedBatch): void {
    this.delete(key);
    this.byDigest.set(key, vb);
    if (vb.origin !== undefined) this.load.charge(vb.origin, 1, vb.batch.txs.length);
  }

  delete(key: string): void {
    const vb = this.byDigest.get(key);
    if (!vb) return;
    this.byDigest.delete(key);
    if (vb.origin !== undefined) this.load.charge(vb.origin, -1, -vb.batch.txs.length);
  }

  /** What `origin`'s batches held here cost (local batches are not charged to anyone). */
  loadOf(origin: number): OriginLoad {
    return this.load.get(origin);
  }
}
