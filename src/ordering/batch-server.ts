import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import { hex } from '../consensus/index.js';
import type { LedgerStore } from '../storage/ledger-store.js';
import { type Frames, mustFrame } from '../tx/frames.js';
import { SEQUENCE_RESEND_WINDOW } from './batch-sequencer.js';
import type { HeldBatches } from './held-batches.js';
import type { PeerMessage, WireBatchCert } from './peer-wire.js';

export interface BatchServerOptions {
  /** Batches this validator holds until applied (its own and its peers'). */
  held: HeldBatches;
  /** The ledger: batches of applied blocks are served from it to lagging peers. */
  store: LedgerStore;
  /** Sends a peer message (errors are the caller's to log and count). */
  send: (to: number | 'all', m: PeerMessage) => void;
  /** The largest message the transport takes. */
  maxMessageBytes: () => number;
  logger: Logger;
  /** The certificate this validator holds for a batch, sent along with it (the asker need not verify it). */
  certificateOf?: (digest: Uint8Array) => WireBatchCert | undefined;
}

/** Own batches remembered by sequence number, for peers that lost some in transit (a receiver skips gaps older than this). */
const RESEND_WINDOW = SEQUENCE_RESEND_WINDOW;
/** Sequence numbers served per gap request. */
const RESEND_MAX = 64;

/**
 * The sending side of batch dissemination: this validator's own batches go to every peer with its
 * boot id and sequence number (BatchSequencer puts them back in order on the other side), a gap a
 * peer reports is filled again, and batches asked for by digest are served from memory or, once
 * applied, from the ledger.
 */
export class BatchServer {
  /** This process's boot id: a restarted validator starts a new sequence. */
  readonly boot = randomInt(1, 2 ** 31);
  private localSeq = 0;
  private readonly sentBySeq = new Map<number, Uint8Array>();
  private readonly seqByDigest = new Map<string, number>();

  constructor(private readonly o: BatchServerOptions) {}

  /** Sends a local batch to every peer, numbered in seal order. */
  broadcast(digest: Uint8Array, txs: Uint8Array): void {
    const n = ++this.localSeq;
    this.sentBySeq.set(n, digest);
    this.seqByDigest.set(hex(digest), n);
    const old = this.sentBySeq.get(n - RESEND_WINDOW);
    if (old) this.seqByDigest.delete(hex(old));
    this.sentBySeq.delete(n - RESEND_WINDOW);
    this.o.send('all', { k: 'b', txs, i: this.boot, n });
  }

  /**
   * Sends an own batch to every peer again, under its first sequence number (a receiver that has
   * moved past it takes it as late, not as a gap); unnumbered once out of the resend window.
   */
  again(digest: Uint8Array): void {
    const txs = this.batchBytes(digest);
    if (!txs) return;
    const n = this.seqByDigest.get(hex(digest));
    this.o.send('all', n === undefined ? { k: 'b', txs } : { k: 'b', txs, i: this.boot, n });
  }

  /** A peer missed some of our batches: send them again, with their sequence numbers. */
  resend(to: number, boot: number, from: number, toSeq: number): void {
    if (boot !== this.boot || !Number.isInteger(from) || !Number.isInteger(toSeq)) return;
    for (let n = Math.max(1, from, this.localSeq - RESEND_WINDOW + 1); n <= Math.min(toSeq, from + RESEND_MAX - 1, this.localSeq); n++) {
      const d = this.sentBySeq.get(n);
      const txs = d && this.batchBytes(d);
      if (txs) this.o.send(to, { k: 'b', txs, i: this.boot, n });
    }
  }

  /**
   * Answers a batch request in as many `br` messages as the frame limit needs: four 100 K-tx
   * batches are 67 MB, above a 64 MiB frame, and one oversized answer was never sent at all.
   */
  serve(to: number, digests: Uint8Array[]): void {
    const budget = this.o.maxMessageBytes() - 1_024;
    let out: Uint8Array[] = [];
    let certs: WireBatchCert[] = [];
    let bytes = 0;
    let served = 0;
    const flush = (): void => {
      this.o.send(to, certs.length > 0 ? { k: 'br', txs: out, c: certs } : { k: 'br', txs: out });
      out = [];
      certs = [];
      bytes = 0;
    };
    const blocks = new Map<number, StoredBlock | undefined>();
    for (const d of digests) {
      const txs = this.batchBytes(d, blocks);
      if (!txs) continue;
      if (out.length > 0 && bytes + txs.length + 16 > budget) flush();
      out.push(txs);
      const cert = this.o.certificateOf?.(d);
      if (cert) certs.push(cert);
      bytes += txs.length + 16 + (cert ? 128 + 80 * cert.v.length : 0);
      served++;
    }
    if (out.length > 0) flush();
    if (served < digests.length) this.o.logger.debug({ to, asked: digests.length, served }, 'could not serve every requested batch');
  }

  /** A batch's transactions from memory, or from the ledger once applied (lagging peers). */
  private batchBytes(d: Uint8Array, blocks?: Map<number, StoredBlock | undefined>): Uint8Array | undefined {
    const mem = this.o.held.get(hex(d));
    if (mem && mem.batch.txs.byteLength > 0) return mem.batch.txs;
    const loc = this.o.store.getBatchLocation(d);
    if (!loc) return undefined;
    // A block's payload is read (copied out of LMDB) once per request, not once per batch in it.
    let block = blocks?.get(loc.height);
    if (block === undefined) {
      const payload = this.o.store.getPayload(loc.height);
      // Framed once per block: its transactions may be of either layout (src/tx/frames.ts).
      block = payload && { payload, frames: mustFrame(payload) };
      blocks?.set(loc.height, block);
    }
    return block?.payload.subarray(block.frames.offsets[loc.start], block.frames.offsets[loc.start + loc.count]);
  }
}

/** A block's payload read for serving, with its frames. */
interface StoredBlock {
  payload: Buffer;
  frames: Frames;
}
