/** Who proposes in a round. An interface so reputation-based election can replace round-robin. */
export interface LeaderElection {
  leader(round: number): number;
}

export class RoundRobin implements LeaderElection {
  constructor(private readonly n: number) {
    if (!Number.isInteger(n) || n < 1) throw new RangeError('validator count must be a positive integer');
  }

  leader(round: number): number {
    return round % this.n;
  }
}
