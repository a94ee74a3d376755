export interface PacemakerConfig {
  /** Base round timeout (config consensus.timeoutMs). */
  timeoutMs: number;
  /** An empty block that only announces a commit waits this long after entering the round. */
  heartbeatMs: number;
  /** Timeout doubles per consecutive TC-ended busy round after the first, up to timeoutMs × 2^maxBackoffExponent. */
  maxBackoffExponent: number;
  /** Round timer while there is nothing to order: a slow rotation, not a failure detector. */
  idleTimeoutMs: number;
}

/**
 * Round state and the round timer. Rounds advance only on a certificate (QC or TC) of the current
 * round or above, so partitioned nodes cannot drift apart: without a quorum everyone stays in the
 * same round and re-broadcasts its timeout each interval until the network heals.
 *
 * The timer runs at two speeds. While the node has work (a batch to order, or payload in a block
 * that has not committed yet) a round that makes no progress within `timeoutMs` (with back-off)
 * has failed. While it has none, nobody is expected to propose, so the round only ends after
 * `idleTimeoutMs` and that ending is not counted as a failure: the first batch after an idle
 * spell meets the base timeout, not a back-off built up while nothing happened.
 */
export class Pacemaker {
  round = 1;
  /** Consecutive busy rounds ended by a TC: drives back-off; reset by a QC or an idle round. */
  private failures = 0;
  private timedOutRound = 0;
  private timedOutAt = 0;
  private roundStart = 0;
  /** Since when the node has had work, or null while idle. */
  private busySince: number | null = null;

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
  }

  /** Called with a certified round (QC or TC round). Returns true if the round advanced. */
  advance(certRound: number, viaTc: boolean, now: number): boolean {
    if (certRound < this.round) return false;
    this.failures = viaTc && this.busy ? this.failures + 1 : 0;
    this.start(certRound + 1, now);
    return true;
  }

  get busy(): boolean {
    return this.busySince !== null;
  }

  /** Whether the node has work; a round becoming busy gets a full timeout from now. */
  setBusy(busy: boolean, now: number): void {
    if (!busy) this.busySince = null;
    else if (this.busySince === null) this.busySince = now;
  }

  get startedAt(): number {
    return this.roundStart;
  }

  /** Fire (or re-broadcast the timeout) at this time. */
  get timeoutDeadline(): number {
    const from = this.hasTimedOut() ? this.timedOutAt : this.roundStart;
    if (this.busySince === null) return from + this.cfg.idleTimeoutMs;
    return Math.max(from, this.busySince) + this.currentTimeout();
  }

  hasTimedOut(): boolean {
    return this.timedOutRound === this.round;
  }

  /** The round timer fired (or f+1 peers timed out): re-arm so the timeout is re-broadcast. */
  onLocalTimeout(now: number): void {
    this.timedOutRound = this.round;
    this.timedOutAt = now;
  }

  /** When the leader of the current round may send an empty block that announces a commit. */
  heartbeatAt(): number {
    return this.roundStart + this.cfg.heartbeatMs;
  }
}
