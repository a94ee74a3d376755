import type { Batch } from '../pipeline/batch.js';

/** A sealed batch whose signatures have been checked (one status byte per tx). */
export interface VerifiedBatch {
  batch: Batch;
  verified: Uint8Array;
  verifyMs: number;
  /** txRootOf(ids): what consensus orders; set by orderers that need it. */
  digest?: Uint8Array;
  /** The validator whose batch this is, or who answered with it (absent for local batches). */
  origin?: number;
  /** false: held for its certificate, signatures not checked here (`verified` is then all zero). */
  signaturesChecked?: boolean;
  /** performance.now() when handed to the orderer, and when delivered in order (stage timings). */
  submittedAt?: number;
  deliveredAt?: number;
}

/** What the ledger executes next: one or more batches, in order, as one block. */
export interface OrderedBlock {
  batches: VerifiedBatch[];
  /** Consensus round that committed it (0 for the solo sequencer). */
  round: number;
  timestamp: number;
}

/**
 * The ordering stage between verification and execution. The pipeline hands it every local batch
 * once verified, in seal order; the orderer calls `deliver` with blocks in their final order, one
 * at a time (each call after the previous one returned). A solo node orders its own batches; a
 * validator runs consensus over batch digests (src/consensus).
 */
export interface Orderer {
  start(deliver: (block: OrderedBlock) => void): void;
  submit(batch: VerifiedBatch): void;
  /** A delivered block is durable; `stateRoot` is the state after it. */
  applied(stateRoot: Uint8Array, round: number): void;
  stop(): void;
}

/** Single node: every local batch becomes the next block at once. No votes, no certificates. */
export class SoloOrderer implements Orderer {
  private deliver: ((block: OrderedBlock) => void) | undefined;

  start(deliver: (block: OrderedBlock) => void): void {
    this.deliver = deliver;
  }

  submit(batch: VerifiedBatch): void {
    this.deliver?.({ batches: [batch], round: 0, timestamp: Date.now() });
  }

  applied(): void {}

  stop(): void {
    this.deliver = undefined;
  }
}
