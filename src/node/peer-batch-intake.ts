import { performance } from 'node:perf_hooks';
import { txRootOf } from '../chain/block-header.js';
import { hex } from '../consensus/index.js';
import { rejectName } from '../errors.js';
import type { VerifiedBatch } from '../pipeline/orderer.js';
import type { VerifyPool } from '../pipeline/verify-pool.js';
import { txId } from '../tx/codec.js';
import { TX_ID_SIZE, TX_SIZE } from '../tx/layout.js';
import { nonceRejectCode, staticRejectCode } from '../tx/rules.js';
import type { HeldBatches, OriginLoad } from './held-batches.js';

/** Why a peer's batch was not taken. `static-rule` and `bad-signature` prove the origin faulty. */
export type IntakeDrop = 'static-rule' | 'bad-signature' | 'known-bad' | 'intake-full' | 'unsolicited';

export interface PeerBatchIntakeOptions {
  chainId: number;
  verifier: VerifyPool;
  /** What the node holds (the per-origin bound counts those batches too). */
  held: HeldBatches;
  /** Per origin: batches being verified plus batches held unordered, and their bytes. */
  maxBatchesPerOrigin: number;
  maxBytesPerOrigin: number;
  /** A batch dropped, counted and logged by the caller. */
  onDrop: (from: number, reason: IntakeDrop, detail?: string) => void;
}

/** Digests of batches proved invalid, remembered so a re-send or a fetch is not verified again. */
const MAX_KNOWN_BAD = 4_096;

/** `take`'s answer: being verified (undefined when dropped or already held), or no room now. */
export type Intake = { verifying: Promise<VerifiedBatch | undefined> } | { full: true };

/**
 * Takes peers' batches into a validator: every transaction must meet the static rules and carry a
 * valid signature, or the whole batch is dropped and its origin reported faulty (an honest origin
 * only ever sends transactions it verified at admission, so there is no honest reason for one bad
 * transaction in a batch). Intake is bounded per origin, verification included, so one peer's junk
 * cannot crowd out the others' batches or grow memory without bound.
 */
export class PeerBatchIntake {
  private readonly verifying = new Map<string, Promise<VerifiedBatch | undefined>>();
  private readonly verifyingLoad = new Map<number, OriginLoad>();
  private readonly knownBad = new Set<string>();

  constructor(private readonly o: PeerBatchIntakeOptions) {}

  /** Digest and ids of a batch's transactions (never the sender's word for them). */
  static identify(txs: Buffer): { ids: Buffer; digest: Uint8Array; count: number } {
    const count = txs.length / TX_SIZE;
    const ids = Buffer.allocUnsafe(count * TX_ID_SIZE);
    for (let i = 0; i < count; i++) txId(txs, i * TX_SIZE).copy(ids, i * TX_ID_SIZE);
    return { ids, digest: txRootOf(ids), count };
  }

  isVerifying(digestHex: string): boolean {
    return this.verifying.has(digestHex);
  }

  /** Batches and bytes `origin` costs this node: being verified plus held. */
  loadOf(origin: number): OriginLoad {
    const v = this.verifyingLoad.get(origin) ?? { batches: 0, bytes: 0 };
    const h = this.o.held.loadOf(origin);
    return { batches: v.batches + h.batches, bytes: v.bytes + h.bytes };
  }

  /**
   * Verifies a peer's batch, charged to `origin`. `full` (nothing started) when the origin is at
   * its bound: the caller treats the batch as lost, so its order is not broken (it is asked for
   * again later). Resolves undefined when the batch is invalid (reported through onDrop) or held.
   */
  take(origin: number, txs: Buffer, known?: { ids: Buffer; digest: Uint8Array }): Intake {
    const { ids, digest } = known ?? PeerBatchIntake.identify(txs);
    const key = hex(digest);
    if (this.o.held.has(key)) return { verifying: Promise.resolve(undefined) };
    const pending = this.verifying.get(key);
    if (pending) return { verifying: pending };
    if (this.knownBad.has(key)) {
      this.o.onDrop(origin, 'known-bad', key);
      return { verifying: Promise.resolve(undefined) };
    }
    const l = this.loadOf(origin);
    if (l.batches + 1 > this.o.maxBatchesPerOrigin || l.bytes + txs.length > this.o.maxBytesPerOrigin) {
      this.o.onDrop(origin, 'intake-full', `${l.batches} batches, ${l.bytes} bytes held`);
      return { full: true };
    }
    const count = txs.length / TX_SIZE;
    for (let i = 0; i < count; i++) {
      const code = staticRejectCode(txs, i * TX_SIZE, this.o.chainId) || nonceRejectCode(txs, i * TX_SIZE);
      if (code !== 0) return { verifying: Promise.resolve(this.faulty(origin, key, 'static-rule', `tx ${i}: ${rejectName(code)}`)) };
    }
    this.charge(origin, 1, txs.length);
    const t0 = performance.now();
    const run = this.o.verifier.verify(txs, count).then((verified): VerifiedBatch | undefined => {
      const bad = verified.findIndex((v) => v !== 0);
      if (bad >= 0) return this.faulty(origin, key, 'bad-signature', `tx ${bad}`);
      return { batch: { seq: 0, entries: [], txs, ids, count, sealedAt: t0 }, verified, verifyMs: performance.now() - t0, digest, origin };
    });
    this.verifying.set(key, run);
    void run
      .finally(() => {
        this.verifying.delete(key);
        this.charge(origin, -1, -txs.length);
      })
      .catch(() => undefined);
    return { verifying: run };
  }

  private faulty(origin: number, key: string, reason: IntakeDrop, detail: string): undefined {
    this.knownBad.add(key);
    if (this.knownBad.size > MAX_KNOWN_BAD) this.knownBad.delete(this.knownBad.values().next().value!);
    this.o.onDrop(origin, reason, detail);
    return undefined;
  }

  private charge(origin: number, batches: number, bytes: number): void {
    const l = this.verifyingLoad.get(origin) ?? { batches: 0, bytes: 0 };
    l.batches += batches;
    l.bytes += bytes;
    if (l.batches <= 0) this.verifyingLoad.delete(origin);
    else this.verifyingLoad.set(origin, l);
  }
}
