export interface PacemakerConfig {
  /** Base round timeout (config consensus.timeoutMs). */
  timeoutMs: number;
  /** Idle-leader keep-alive: an empty proposal goes out this long after entering the round. */
  heartbeatMs: number;
  /** Timeout doubles per consecutive TC-ended round after the first, up to timeoutMs × 2^maxBackoffExponent. */
  maxBackoffExponent: number;
}

/**
 * Round state and the round timer. Rounds advance only on a certificate (QC or TC) of the current
 * round or above, so partitioned nodes cannot drift apart: without a quorum everyone stays in the
 * same round and re-broadcasts its timeout each interval until the network heals.
 */
export class Pacemaker {
  round = 1;
  /** Consecutive rounds ended by a TC: drives back-off; reset by a QC. */
  private failures = 0;
  private deadline = 0;
  private timedOutRound = 0;
  private roundStart = 0;

  constructor(private readonly cfg: PacemakerConfig) {}

  currentTimeout(): number {
    // One crashed validator already costs two TC rounds (it collects the votes of the round
    // before its own, then leads its own), so back-off starts at the second consecutive TC.
    const exp = Math.min(Math.max(this.failures - 1, 0), this.cfg.maxBackoffExponent);
    return this.cfg.timeoutMs * 2 ** exp;
  }

  start(round: number, now: number): void {
    this.round = round;
    this.roundStart = now;
    this.deadline = now + this.currentTimeout();
  }

  /** Called with a certified round (QC or TC round). Returns true if the round advanced. */
  advance(certRound: number, viaTc: boolean, now: number): boolean {
    if (certRound < this.round) return false;
    this.failures = viaTc ? this.failures + 1 : 0;
    this.start(certRound + 1, now);
    return true;
  }

  get startedAt(): number {
    return this.roundStart;
  }

  get timeoutDeadline(): number {
    return this.deadline;
  }

  hasTimedOut(): boolean {
    return this.timedOutRound === this.round;
  }

  /** The round timer fired (or f+1 peers timed out): re-arm so the timeout is re-broadcast. */
  onLocalTimeout(now: number): void {
    this.timedOutRound = this.round;
    this.deadline = now + this.currentTimeout();
  }

  /** When an idle leader of the current round should send its keep-alive proposal. */
  heartbeatAt(): number {
    return this.roundStart + this.cfg.heartbeatMs;
  }
}
