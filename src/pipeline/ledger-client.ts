import { HotledgerError, type ErrorCode } from '../errors.js';
import { TX_ID_SIZE } from '../tx/layout.js';
import { LedgerThread } from './ledger-thread.js';
import type { ApplyInput, LedgerOptions } from '../execution/ledger.js';
import type { LedgerReply, LedgerRequest, TipMessage } from './ledger-protocol.js';

/** Error codes of the ledger thread that keep their meaning here (the rest become INTERNAL). */
const PASSED_CODES = new Set<ErrorCode>(['CONFIG_INVALID', 'STORAGE_FULL', 'STORAGE_CORRUPT', 'STORAGE_CLOSED']);

export type CommittedReply = Extract<LedgerReply, { type: 'committed' }>;

/** What the ledger thread applies: the same shape as Ledger.apply's input. */
export type LedgerBlock = ApplyInput;

/** Coordinator-side handle on one ledger on a ledger thread. Blocks must be sent in height order. */
export class LedgerClient {
  private readonly thread: LedgerThread;
  /** The thread this client created and closes (undefined when the thread is shared). */
  private readonly ownThread: LedgerThread | undefined;
  private readonly id: number;
  private seq = 0;
  /** The last block acknowledged: acks must come in the order blocks were sent. */
  private ackedSeq = 0;
  private readonly pending = new Map<number, { resolve: (r: CommittedReply) => void; reject: (e: Error) => void }>();
  private readyWaiter: { resolve: (t: TipMessage) => void; reject: (e: Error) => void } | undefined;
  private closeWaiter: (() => void) | undefined;
  private failure: Error | undefined;
  private threadGone = false;

  /** `thread`: a ledger thread shared with other nodes of this process (its owner closes it). */
  constructor(thread?: LedgerThread) {
    this.ownThread = thread ? undefined : new LedgerThread();
    this.thread = thread ?? this.ownThread!;
    this.id = this.thread.attach({
      onReply: (m) => this.onReply(m),
      onExit: (e) => {
        this.threadGone = true;
        if (this.pending.size > 0 || this.readyWaiter || !this.closeWaiter) this.fail(e);
        this.closeWaiter?.();
      },
    });
  }

  init(options: LedgerOptions): Promise<TipMessage> {
    return new Promise((resolve, reject) => {
      this.readyWaiter = { resolve, reject };
      this.post({ type: 'init', options: { ...options, genesis: options.genesis.map((g) => ({ publicKey: g.publicKey, balance: g.balance })) } });
    });
  }

  /** Hands a block over (its buffers are transferred, not copied) and resolves when it is durable. */
  apply(b: LedgerBlock): Promise<CommittedReply> {
    if (this.failure) return Promise.reject(this.failure);
    const seq = ++this.seq;
    const txs = ownedArrayBuffer(b.txs, b.txs.length);
    const verified = ownedArrayBuffer(b.verified, b.count);
    const ids = ownedArrayBuffer(b.ids, b.count * TX_ID_SIZE);
    return new Promise((resolve, reject) => {
      this.pending.set(seq, { resolve, reject });
      this.post({ type: 'block', seq, txs, count: b.count, verified, ids, timestamp: b.timestamp, round: b.round, batches: b.batches }, [txs, verified, ids]);
    });
  }

  get inFlight(): number {
    return this.pending.size;
  }

  async close(): Promise<void> {
    // Even after a failure (a full disk): on a shared thread the ledger's environment must close.
    if (!this.threadGone) {
      await new Promise<void>((resolve) => {
        this.closeWaiter = resolve;
        this.post({ type: 'close' });
      });
    }
    this.thread.detach(this.id);
    await this.ownThread?.close();
  }

  private post(m: DistributiveOmit<LedgerRequest, 'ledger'>, transfer: ArrayBuffer[] = []): void {
    this.thread.post({ ...m, ledger: this.id } as LedgerRequest, transfer);
  }

  private onReply(m: LedgerReply): void {
    switch (m.type) {
      case 'ready':
        this.readyWaiter?.resolve(m.tip);
        this.readyWaiter = undefined;
        return;
      case 'committed': {
        // The coordinator takes each ack's height as the new tip; an ack that overtook an
        // earlier one would move the tip backwards. Stop loudly rather than serve a wrong tip.
        if (m.seq !== this.ackedSeq + 1) return this.fail(new HotledgerError('INTERNAL', `ledger thread acknowledged block ${m.seq} after ${this.ackedSeq}`));
        this.ackedSeq = m.seq;
        const p = this.pending.get(m.seq);
        this.pending.delete(m.seq);
        p?.resolve(m);
        return;
      }
      case 'closed':
        this.closeWaiter?.();
        return;
      case 'error': {
        const err = new HotledgerError(PASSED_CODES.has(m.code as ErrorCode) ? (m.code as ErrorCode) : 'INTERNAL', m.message);
        if (m.seq === undefined) {
          this.readyWaiter?.reject(err);
          this.readyWaiter = undefined;
        }
        this.fail(err);
        return;
      }
    }
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const p of this.pending.values()) p.reject(this.failure);
    this.pending.clear();
    this.readyWaiter?.reject(this.failure);
    this.readyWaiter = undefined;
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/** An ArrayBuffer holding exactly these bytes that can be transferred (copies only when it must). */
function ownedArrayBuffer(u: Uint8Array, length: number): ArrayBuffer {
  if (u.byteOffset === 0 && u.buffer.byteLength === length && !(u.buffer instanceof SharedArrayBuffer)) return u.buffer as ArrayBuffer;
  const copy = new Uint8Array(length);
  copy.set(u.subarray(0, length));
  return copy.buffer;
}
