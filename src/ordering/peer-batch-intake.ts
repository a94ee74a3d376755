import { performance } from 'node:perf_hooks';
import { txRootOf } from '../chain/block-header.js';
import { hex } from '../consensus/index.js';
import { rejectName } from '../errors.js';
import type { VerifiedBatch } from './orderer.js';
import type { SignatureVerifier } from '../pipeline/verify-pool.js';
import { type Frames, mustFrame, staticRejectAt, txIdAt } from '../tx/frames.js';
import { TX_ID_SIZE } from '../tx/layout.js';
import { OriginLoads, type HeldBatches, type OriginLoad } from './held-batches.js';

/** Why a peer's batch was not taken. `static-rule` and `bad-signature` prove the sender faulty. */
export type IntakeDrop = 'static-rule' | 'bad-signature' | 'quarantined' | 'intake-full' | 'unsolicited';

export interface PeerBatchIntakeOptions {
  chainId: number;
  verifier: SignatureVerifier;
  /** What the node holds (the per-origin bound counts those batches too). */
  held: HeldBatches;
  /** Batches held unverified, waiting for a certificate (counted like `held`). */
  unproven?: HeldBatches;
  /** Per origin: batches being verified plus batches held unordered, and their bytes. */
  maxBatchesPerOrigin: number;
  maxBytesPerOrigin: number;
  /** A batch dropped, counted and logged by the caller. */
  onDrop: (from: number, reason: IntakeDrop, detail?: string) => void;
}

/**
 * How long a peer that sent an invalid batch has its batches dropped unread. Honest peers send only
 * batches they verified, so only a faulty peer is ever quarantined; it bounds what a faulty peer's
 * junk costs in verification to one batch per period.
 */
export const QUARANTINE_MS = 30_000;

/** `take`'s answer: being verified (undefined when dropped or already held), or no room now. */
export type Intake = { verifying: Promise<VerifiedBatch | undefined> } | { full: true };

/**
 * Takes peers' batches into a validator: every transaction must meet the static rules and carry a
 * valid signature, or the whole batch is dropped and its sender reported faulty and quarantined (an
 * honest peer only ever sends transactions it verified, so there is no honest reason for one bad
 * transaction in a batch). Intake is bounded per origin, verification included, so one peer's junk
 * cannot crowd out the others' batches or grow memory without bound.
 */
export class PeerBatchIntake {
  private readonly verifying = new Map<string, Promise<VerifiedBatch | undefined>>();
  private readonly verifyingLoad = new OriginLoads();
  /** Until when a peer proved faulty has its batches dropped unread. */
  private readonly quarantine = new Map<number, number>();

  constructor(private readonly o: PeerBatchIntakeOptions) {}

  /** Digest and ids of a batch's transactions (never the sender's word for them), and its frames. */
  static identify(txs: Buffer): { ids: Buffer; digest: Uint8Array; count: number; frames: Frames } {
    // The peer wire admits only buffers that frame (peer-wire.ts), so this cannot throw on a peer's bytes.
    const frames = mustFrame(txs);
    const { offsets, count } = frames;
    const ids = Buffer.allocUnsafe(count * TX_ID_SIZE);
    for (let i = 0; i < count; i++) txIdAt(txs, offsets[i]!, offsets[i + 1]! - offsets[i]!).copy(ids, i * TX_ID_SIZE);
    return { ids, digest: txRootOf(ids), count, frames };
  }

  /** Whether some peer's batch with this digest is being verified. */
  isVerifying(digestHex: string): boolean {
    for (const k of this.verifying.keys()) if (k.endsWith(digestHex)) return true;
    return false;
  }

  /** Batches and bytes `origin` costs this node: being verified plus held. */
  loadOf(origin: number): OriginLoad {
    const v = this.verifyingLoad.get(origin);
    const h = this.o.held.loadOf(origin);
    const u = this.o.unproven?.loadOf(origin) ?? { batches: 0, bytes: 0 };
    return { batches: v.batches + h.batches + u.batches, bytes: v.bytes + h.bytes + u.bytes };
  }

  /**
   * Verifies a peer's batch, charged to `origin`. `full` (nothing started) when the origin is at
   * its bound: the caller treats the batch as lost, so its order is not broken (it is asked for
   * again later). Resolves undefined when the batch is invalid (reported through onDrop) or held.
   * `verify: false` (a batch this validator is not a designated verifier of): the static rules only,
   * every signature left to the batch's certificate (BatchCertificates); `verified` is then all zero.
   */
  take(origin: number, txs: Buffer, opts: { known?: { ids: Buffer; digest: Uint8Array; frames?: Frames }; solicited?: boolean; verify?: boolean } = {}): Intake {
    const now = Date.now();
    if ((this.quarantine.get(origin) ?? 0) > now) {
      this.o.onDrop(origin, 'quarantined');
      return { verifying: Promise.resolve(undefined) };
    }
    const known = opts.known ?? PeerBatchIntake.identify(txs);
    const { ids, digest } = known;
    const key = hex(digest);
    if (this.o.held.has(key) || this.o.unproven?.has(key)) return { verifying: Promise.resolve(undefined) };
    // By sender and digest: the digest covers transaction ids, not signatures, so a forged copy of
    // a batch has the digest of the genuine one and must never stand in for it (nor its verdict).
    const vkey = `${origin}:${key}`;
    const pending = this.verifying.get(vkey);
    if (pending) return { verifying: pending };
    const l = this.loadOf(origin);
    // An answer to this node's own request is bounded by the request; a node catching up holds
    // many peers' new batches and must still get the old ones its next block needs.
    if (!opts.solicited && (l.batches + 1 > this.o.maxBatchesPerOrigin || l.bytes + txs.length > this.o.maxBytesPerOrigin)) {
      this.o.onDrop(origin, 'intake-full', `${l.batches} batches, ${l.bytes} bytes held`);
      return { full: true };
    }
    const { offsets, count } = known.frames ?? mustFrame(txs);
    for (let i = 0; i < count; i++) {
      const code = staticRejectAt(txs, offsets[i]!, offsets[i + 1]! - offsets[i]!, this.o.chainId);
      if (code !== 0) return { verifying: Promise.resolve(this.faulty(origin, 'static-rule', `tx ${i}: ${rejectName(code)}`)) };
    }
    // Charged until taken in, unverified ones too: a burst of batches arriving in one tick is bounded.
    this.verifyingLoad.charge(origin, 1, txs.length);
    const t0 = performance.now();
    const run =
      opts.verify === false
        ? Promise.resolve<VerifiedBatch>({
            batch: { seq: 0, entries: [], txs, ids, count, sealedAt: t0 },
            verified: new Uint8Array(count),
            verifyMs: 0,
            digest,
            origin,
            signaturesChecked: false,
          })
        : this.o.verifier.verify(txs, count).then((verified): VerifiedBatch | undefined => {
            const bad = verified.findIndex((v) => v !== 0);
            if (bad >= 0) return this.faulty(origin, 'bad-signature', `tx ${bad}`);
            return { batch: { seq: 0, entries: [], txs, ids, count, sealedAt: t0 }, verified, verifyMs: performance.now() - t0, digest, origin };
          });
    this.verifying.set(vkey, run);
    void run
      .finally(() => {
        this.verifying.delete(vkey);
        this.verifyingLoad.charge(origin, -1, -txs.length);
      })
      .catch(() => undefined);
    return { verifying: run };
  }

  /**
   * Verifies a batch held unverified (escalation: a designated verifier was slow, or this node has
   * no certificate for a batch it must execute). Resolves the verdicts, or undefined when one is bad:
   * `origin` is then reported faulty and quarantined.
   */
  async verifyHeld(origin: number, txs: Buffer, count: number): Promise<Uint8Array | undefined> {
    const verified = await this.o.verifier.verify(txs, count);
    const bad = verified.findIndex((v) => v !== 0);
    if (bad >= 0) return origin >= 0 ? this.faulty(origin, 'bad-signature', `tx ${bad}`) : undefined;
    return verified;
  }

  private faulty(origin: number, reason: IntakeDrop, detail: string): undefined {
    this.quarantine.set(origin, Date.now() + QUARANTINE_MS);
    this.o.onDrop(origin, reason, detail);
    return undefined;
  }
}
