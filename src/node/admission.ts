import { performance } from 'node:perf_hooks';
import { rejectName, type RejectName } from '../errors.js';
import type { Mempool, Precheck } from '../mempool/mempool.js';
import { AdmissionVerifier } from '../pipeline/admission-verifier.js';
import type { SignatureVerifier } from '../pipeline/verify-pool.js';
import { frameTxs, mustFrame, unframedError } from '../tx/frames.js';
import type { AdmitResult } from './node-api.js';
import type { NodeMetrics } from './node-metrics.js';

export interface AdmissionOptions {
  /** mempool.maxUnverified: transactions waiting for their signature check. */
  maxUnverified: number;
  /** pipeline.chunkSize: a coalesced verification is at most this per verify thread. */
  chunkSize: number;
  metrics: Pick<NodeMetrics, 'admitted' | 'rejected'>;
  /** Throws the node's typed error when it accepts nothing; asked again after every wait. */
  assertAccepting: () => void;
  /** Seal what became ready (the pipeline). */
  poke: () => void;
}

/**
 * Admission work between two yields to the event loop: a 100,000-transaction submission must not
 * hold the main thread (API, consensus) for its whole precheck (~0.5 s measured), only for a slice.
 */
const ADMISSION_SLICE = 4_096;

/**
 * A node's admission: the cheap rules first, then the signature (on the pool, coalesced with other
 * submissions), then the mempool. Nothing about a transaction is kept until its signature
 * verified, so a forged copy sent first cannot hold the genuine one's nonce slot or id.
 */
export class Admission {
  private readonly verifier: AdmissionVerifier;

  constructor(
    private readonly mempool: Mempool,
    pool: SignatureVerifier,
    private readonly o: AdmissionOptions,
  ) {
    this.verifier = new AdmissionVerifier(pool, { maxQueuedTxs: o.maxUnverified, maxFlushTxs: o.chunkSize * pool.threads });
  }

  /** Whether admissions are being verified (more transactions are about to be ready). */
  get busy(): boolean {
    return this.verifier.busy;
  }

  /** `txs` must frame (src/tx/frames.ts): the API refuses a body that does not, with the offset. */
  async submit(txs: Buffer): Promise<AdmitResult[]> {
    // Before anything else, as the API's own check did: a body that does not frame is a 400 even while the node is not accepting.
    const frames = frameTxs(txs);
    if (!frames) throw unframedError(txs);
    this.o.assertAccepting();
    const { offsets } = frames;
    const n = frames.count;
    const receivedAt = performance.now();
    const out: AdmitResult[] = new Array(n);
    const pass: number[] = [];
    const checks: Extract<Precheck, { ok: true }>[] = [];
    const committedNonces = new Map<string, number | undefined>();
    // Committed state as the prechecks saw it: admission asks LMDB again only where it may have moved.
    const since = this.mempool.epoch();
    for (let i = 0; i < n; i++) {
      if (i > 0 && i % ADMISSION_SLICE === 0) await yieldToEventLoop();
      const r = this.mempool.precheck(txs, offsets[i]!, committedNonces);
      if (r.ok) {
        pass.push(i);
        checks.push(r);
      } else this.refuse(out, i, r.code, 'admission');
    }
    if (pass.length === 0) return out;
    this.o.assertAccepting();
    const candidates = pass.length === n ? txs : gather(txs, offsets, pass);
    const at = pass.length === n ? offsets : mustFrame(candidates).offsets;
    const verifying = this.verifier.verify(candidates, pass.length);
    if (!verifying) {
      for (const i of pass) this.refuse(out, i, 'VERIFY_QUEUE_FULL', 'admission');
      return out;
    }
    const verified = await verifying;
    this.o.assertAccepting();
    let verifiedAt = performance.now();
    let admitted = 0;
    for (let j = 0; j < pass.length; j++) {
      if (j > 0 && j % ADMISSION_SLICE === 0) {
        if (admitted > 0) this.o.poke();
        await yieldToEventLoop();
        this.o.assertAccepting();
        verifiedAt = performance.now();
      }
      const i = pass[j]!;
      if (verified[j] !== 0) {
        this.refuse(out, i, rejectName(verified[j]!) as RejectName, 'verify');
        continue;
      }
      const c = checks[j]!;
      const r = this.mempool.admit(candidates, at[j]!, { id: c.id, idKey: c.idKey, senderKey: c.senderKey, receivedAt, verifiedAt, prechecked: true, since });
      if (r.ok) {
        admitted++;
        out[i] = { ok: true, id: r.id };
      } else this.refuse(out, i, r.code, 'admission');
    }
    if (admitted > 0) {
      this.o.metrics.admitted.inc(admitted);
      this.o.poke();
    }
    return out;
  }

  private refuse(out: AdmitResult[], i: number, code: RejectName, stage: 'admission' | 'verify'): void {
    out[i] = { ok: false, code };
    this.o.metrics.rejected.inc({ stage, reason: code });
  }
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** The transactions at `positions` (indexes into `offsets`), copied into one flat buffer. */
function gather(txs: Buffer, offsets: Uint32Array, positions: readonly number[]): Buffer {
  let bytes = 0;
  for (const i of positions) bytes += offsets[i + 1]! - offsets[i]!;
  const out = Buffer.allocUnsafe(bytes);
  let w = 0;
  for (const i of positions) w += txs.copy(out, w, offsets[i]!, offsets[i + 1]!);
  return out;
}
