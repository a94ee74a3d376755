import { performance } from 'node:perf_hooks';
import { RejectCode, rejectName, type RejectName } from '../errors.js';
import sodium from 'sodium-native';
import { bodyLengthAt, isContractTxAt, maxBatchBytes, nonceAt, senderOffset, staticRejectAt, txIdAt, txLengthAt } from '../tx/frames.js';
import { TX_SIZE } from '../tx/layout.js';
import { BlockGasMeter } from '../contracts/block-gas.js';
import { readU53 } from '../tx/codec.js';
import { CtxOff } from '../tx/contract-tx.js';
import { ReadyQueue } from './ready-queue.js';

export interface MempoolOptions {
  chainId: number;
  capacity: number;
  maxPerSender: number;
  maxNonceGap: number;
}

/** What admission needs to know about committed state (the node reads it from LMDB). */
export interface CommittedView {
  /** Committed nonce of an existing account, or undefined when the account does not exist. */
  committedNonce(sender: Uint8Array): number | undefined;
  /** Whether a tx with this id is already in the ledger (committed or rejected in a block). */
  hasTx(id: Uint8Array): boolean;
}

export interface PendingTx {
  tx: Buffer;
  id: Buffer;
  idKey: string;
  sender: SenderQueue;
  nonce: number;
  /** performance.now() when the node received it (before verification), for submission→commit latency. */
  admittedAt: number;
  /** performance.now() when its signature had verified and it entered the mempool. */
  verifiedAt: number;
}

interface SenderQueue {
  key: string;
  committedNonce: number;
  /** Next nonce allowed into the ready queue. */
  nextReady: number;
  /**
   * Future nonces waiting for the gap before them to fill. NO_WAITING (shared, always empty) until
   * the first one arrives: most senders never have a gap, and a Map per sender queue was a
   * measurable share of admission's allocations.
   */
  waiting: Map<number, PendingTx>;
  /** Entries in the ready queue or sealed into a batch, not yet committed. */
  active: number;
  /** Set when one of its txs failed in execution: no new tx becomes ready until in-flight ones settle. */
  resync: boolean;
}

export type Admission = { ok: true; id: Buffer; entry: PendingTx } | { ok: false; code: RejectName };
/** Blocks of its own entries the mempool remembers the ids of (see `finalSince`). */
const RECENT_BLOCKS = 16;
/** Settled senders whose committed nonce the mempool keeps (oldest forgotten first). */
const MAX_SETTLED_NONCES = 100_000;

export interface AdmissionEpoch {
  local: number;
  foreign: number;
}
/**
 * A passed precheck carries the id and the map keys it derived, so `admit` after the signature
 * check neither hashes nor builds the strings again (each is a per-transaction allocation).
 */
export type Precheck = { ok: true; id: Buffer; idKey: string; senderKey: string } | { ok: false; code: RejectName };
/** What `admit` may reuse from a passed `precheck` of the same bytes. */
export interface AdmitOptions {
  id?: Buffer | undefined;
  idKey?: string | undefined;
  senderKey?: string | undefined;
  receivedAt?: number | undefined;
  /** performance.now() when the signature had verified (default: now), one reading per submission. */
  verifiedAt?: number | undefined;
  prechecked?: boolean | undefined;
  since?: AdmissionEpoch | undefined;
}
type Checked = { ok: true; q: SenderQueue; fresh: boolean; nonce: number; id: Buffer; idKey: string; senderKey: string; len: number } | { ok: false; code: RejectName };

/**
 * Admission of verified transactions, per-sender nonce order, and a hard capacity. A sender's tx becomes
 * "ready" only when its nonce is the next one after everything already ready or in flight, so
 * batches always carry each sender's nonces in order; an equal nonce is refused as pending, a
 * lower one as a replay.
 */
export class Mempool {
  private readonly senders = new Map<string, SenderQueue>();
  private readonly byId = new Map<string, PendingTx>();
  private readonly ready = new ReadyQueue<PendingTx>();
  /** Recently dropped ids and why, so a client polling its tx learns its fate. Bounded. */
  private readonly dropped = new Map<string, RejectName>();
  private count = 0;
  /**
   * What admission may know without reading LMDB again. `localEpoch` counts blocks of this
   * mempool's own entries, `foreignEpoch` blocks with another validator's batches (those change
   * committed state behind the mempool's back). `recentIds` holds, per local block, the ids that
   * left the mempool in it (final now); `settledNonces` the committed nonce of senders whose queue
   * was dropped when they settled, exact until the next foreign block.
   */
  private localEpoch = 0;
  private foreignEpoch = 0;
  private readonly recentIds: Set<string>[] = [];
  private readonly settledNonces = new Map<string, number>();
  /**
   * Senders with future nonces waiting and nothing of theirs ready or in flight: only a block from
   * elsewhere can fill their gap (the missing nonce went to another node, and this node's ledger
   * read was one block behind when the next one came), so each foreign block looks at them again.
   */
  private readonly stalled = new Set<SenderQueue>();

  constructor(
    private readonly opts: MempoolOptions,
    private readonly committed: CommittedView,
  ) {}

  /** Pending transactions (waiting, ready or sealed into an uncommitted batch). */
  get size(): number {
    return this.count;
  }

  get readyCount(): number {
    return this.ready.length;
  }

  get capacity(): number {
    return this.opts.capacity;
  }

  /**
   * Every admission rule that needs no signature, without changing anything: what the node runs
   * before spending a verification on a transaction. Nothing here can be influenced by a forged
   * copy, because nothing unverified is ever stored (see `admit`). `committedNonces` caches the
   * committed nonce of senders not in the mempool across one submission's prechecks (a stale value
   * can only let a replay through to verification: `admit` checks again).
   */
  precheck(bytes: Uint8Array, offset = 0, committedNonces?: Map<string, number | undefined>): Precheck {
    const c = this.check(bytes, offset, NOTHING_KNOWN, committedNonces);
    return c.ok ? { ok: true, id: c.id, idKey: c.idKey, senderKey: c.senderKey } : c;
  }

  /** Where committed state stands now, to hand to `admit` after the signatures were checked. */
  epoch(): AdmissionEpoch {
    return { local: this.localEpoch, foreign: this.foreignEpoch };
  }

  /**
   * A block with another node's batches committed: the mempool's shortcuts are void, and a
   * stalled sender's gap may have been filled there. Call once per such block, after its state is
   * readable through the CommittedView.
   */
  noteForeignCommit(): void {
    this.foreignEpoch++;
    this.settledNonces.clear();
    for (const q of [...this.stalled]) {
      if (q.active > 0 || q.resync) continue;
      const c = this.committed.committedNonce(Buffer.from(q.key, 'latin1'));
      if (c === undefined || c <= q.committedNonce) continue;
      q.committedNonce = c;
      if (q.nextReady <= c) q.nextReady = c + 1;
      // A waiting nonce at or below the committed one lost to another transaction: it can never commit.
      for (const [n, w] of q.waiting) {
        if (n > c) continue;
        this.drop(w, RejectCode.NONCE_TOO_LOW);
        q.waiting.delete(n);
      }
      this.drainWaiting(q);
      this.settle(q);
    }
  }

  /**
   * Admits a transaction WHOSE SIGNATURE HAS VERIFIED: only then may it take its sender's nonce
   * slot and mark its id as known. (Admitting before verification let a zero-signature copy of a
   * body, sent first, make the genuine transaction DUPLICATE for ever.) The rules of `precheck` run
   * again: state may have moved while the signature was checked. `prechecked` (the same bytes
   * passed `precheck` at `since`) skips the rules of the bytes alone and, when only this mempool's
   * own blocks committed since, answers "is this id final?" from memory instead of LMDB.
   */
  admit(bytes: Uint8Array, offset = 0, opts: AdmitOptions = NOTHING_KNOWN): Admission {
    const c = this.check(bytes, offset, opts);
    if (!c.ok) return c;
    const { q, nonce, id, idKey } = c;
    const now = opts.verifiedAt ?? performance.now();
    // A copy: the submission's buffer is not kept alive by the transactions that stay pending.
    const tx = Buffer.allocUnsafe(c.len);
    tx.set(bytes.subarray(offset, offset + c.len));
    const entry: PendingTx = { tx, id, idKey, sender: q, nonce, admittedAt: opts.receivedAt ?? now, verifiedAt: now };
    if (c.fresh) this.senders.set(q.key, q);
    this.byId.set(idKey, entry);
    if (this.dropped.size > 0) this.dropped.delete(idKey);
    this.count++;
    if (nonce === q.nextReady && !q.resync) {
      this.makeReady(entry);
      this.drainWaiting(q);
    } else {
      if (q.waiting === NO_WAITING) q.waiting = new Map();
      q.waiting.set(nonce, entry);
      this.noteStalled(q);
    }
    return { ok: true, id, entry };
  }

  private check(bytes: Uint8Array, offset: number, known: AdmitOptions, committedNonces?: Map<string, number | undefined>): Checked {
    // Either layout (src/tx/frames.ts): a transfer is 168 bytes, a contract transaction its own length.
    const len = txLengthAt(bytes, offset);
    if (len === 0) return reject(RejectCode.WRONG_SIZE);
    // A Buffer view only when a rule or a key needs Buffer methods (a prechecked tx needs none).
    let b: Buffer | undefined;
    if (!known.prechecked) {
      b = Buffer.from(bytes.buffer, bytes.byteOffset + offset, len);
      const bad = staticRejectAt(b, 0, len, this.opts.chainId);
      if (bad !== 0) return reject(bad);
    }
    const nonce = nonceAt(bytes, offset);
    const senderAt = senderOffset(bytes, offset) - offset;
    const senderKey = known.senderKey ?? (b ??= Buffer.from(bytes.buffer, bytes.byteOffset + offset, len)).toString('latin1', senderAt, senderAt + 32);
    let q = this.senders.get(senderKey);
    const fresh = q === undefined;
    if (!q) {
      let c: number | undefined = this.settledNonces.get(senderKey);
      if (c !== undefined) {
        // exact: this sender's commits since went through its queue, and no foreign block came
      } else if (committedNonces?.has(senderKey)) c = committedNonces.get(senderKey);
      else {
        c = this.committed.committedNonce(bytes.subarray(offset + senderAt, offset + senderAt + 32));
        committedNonces?.set(senderKey, c);
      }
      if (c === undefined) return reject(RejectCode.UNKNOWN_SENDER);
      q = { key: senderKey, committedNonce: c, nextReady: c + 1, waiting: NO_WAITING, active: 0, resync: false };
    }
    if (nonce <= q.committedNonce) return reject(RejectCode.NONCE_TOO_LOW);
    if ((nonce < q.nextReady && !q.resync) || q.waiting.has(nonce)) return reject(RejectCode.NONCE_PENDING);
    if (nonce > q.committedNonce + this.opts.maxNonceGap) return reject(RejectCode.NONCE_TOO_FAR);
    if (q.active + q.waiting.size >= this.opts.maxPerSender) return reject(RejectCode.SENDER_QUEUE_FULL);
    if (this.count >= this.opts.capacity) return reject(RejectCode.MEMPOOL_FULL);
    const id = known.id ?? admissionTxId(bytes, offset, len);
    const idKey = known.idKey ?? id.toString('latin1');
    if (this.byId.has(idKey) || this.finalSince(idKey, id, known.since)) return reject(RejectCode.DUPLICATE);
    return { ok: true, q, fresh, nonce, id, idKey, senderKey, len };
  }

  /**
   * Whether an id is final in the ledger. Since `since`, if no foreign block committed and at most
   * RECENT_BLOCKS of this mempool's own, the only ids that can have become final are ones that
   * left this mempool in those blocks: a set lookup instead of an LMDB read.
   */
  private finalSince(idKey: string, id: Buffer, since: AdmissionEpoch | undefined): boolean {
    if (since && since.foreign === this.foreignEpoch && this.localEpoch - since.local <= this.recentIds.length) {
      for (let k = this.recentIds.length - (this.localEpoch - since.local); k < this.recentIds.length; k++) if (this.recentIds[k]!.has(idKey)) return true;
      return false;
    }
    return this.committed.hasTx(id);
  }

  /**
   * Takes up to `max` ready transactions, in admission order, for sealing into a batch: at most
   * maxBatchBytes(max) bytes (contract transactions are larger than transfers) and contract gas
   * limits summing to at most BLOCK_GAS_LIMIT, so one batch always fits a block's gas. The first
   * entry that would break a bound stays at the head for the next batch (order is kept).
   */
  takeReady(max: number): PendingTx[] {
    const out: PendingTx[] = [];
    const byteBudget = maxBatchBytes(max);
    const gas = new BlockGasMeter();
    let bytes = 0;
    while (out.length < max) {
      const e = this.ready.peek();
      if (!e) break;
      if (bytes + e.tx.length > byteBudget) break;
      if (isContractTxAt(e.tx, 0) && !gas.tryReserve(readU53(e.tx, CtxOff.GAS_LIMIT))) break;
      bytes += e.tx.length;
      out.push(this.ready.shift()!);
    }
    return out;
  }

  get(id: Uint8Array): PendingTx | undefined {
    return this.byId.get(Buffer.from(id.buffer, id.byteOffset, id.length).toString('latin1'));
  }

  droppedReason(id: Uint8Array): RejectName | undefined {
    return this.dropped.get(Buffer.from(id.buffer, id.byteOffset, id.length).toString('latin1'));
  }

  /**
   * A block with these entries is durable. `statuses[i]` is 0 for committed, else a RejectCode.
   * A sender whose tx failed has its waiting txs dropped (they could only fail on the nonce) and is
   * re-synchronised to its committed nonce once nothing of it is ready or in flight.
   */
  onCommitted(entries: readonly PendingTx[], statuses: Uint8Array): void {
    const broken = new Set<SenderQueue>();
    const final = new Set<string>();
    this.localEpoch++;
    this.recentIds.push(final);
    if (this.recentIds.length > RECENT_BLOCKS) this.recentIds.shift();
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      const q = e.sender;
      final.add(e.idKey);
      this.byId.delete(e.idKey);
      this.count--;
      q.active--;
      if (statuses[i] === 0) {
        if (e.nonce > q.committedNonce) q.committedNonce = e.nonce;
      } else {
        broken.add(q);
      }
    }
    for (const q of broken) this.breakSender(q);
    for (const e of entries) this.settle(e.sender);
  }

  private breakSender(q: SenderQueue): void {
    q.resync = true;
    for (const w of q.waiting.values()) this.drop(w, RejectCode.NONCE_GAP);
    q.waiting.clear();
    this.stalled.delete(q);
  }

  /** Only waiting entries are dropped: ready and sealed ones fail in execution with NONCE_GAP. */
  private drop(e: PendingTx, code: number): void {
    this.byId.delete(e.idKey);
    this.count--;
    this.dropped.set(e.idKey, rejectName(code) as RejectName);
    if (this.dropped.size > 100_000) this.dropped.delete(this.dropped.keys().next().value!);
  }

  private settle(q: SenderQueue): void {
    if (q.resync && q.active === 0) {
      q.resync = false;
      q.nextReady = q.committedNonce + 1;
      // Anything still waiting below the new next nonce can never commit.
      for (const [n, w] of q.waiting)
        if (n < q.nextReady) {
          this.drop(w, RejectCode.NONCE_TOO_LOW);
          q.waiting.delete(n);
        }
      this.drainWaiting(q);
    }
    this.noteStalled(q);
    if (q.active === 0 && q.waiting.size === 0 && !q.resync) {
      this.senders.delete(q.key);
      this.settledNonces.set(q.key, q.committedNonce);
      if (this.settledNonces.size > MAX_SETTLED_NONCES) this.settledNonces.delete(this.settledNonces.keys().next().value!);
    }
  }

  private makeReady(e: PendingTx): void {
    e.sender.nextReady = e.nonce + 1;
    e.sender.active++;
    this.ready.push(e);
  }

  private drainWaiting(q: SenderQueue): void {
    for (let w = q.waiting.get(q.nextReady); w; w = q.waiting.get(q.nextReady)) {
      q.waiting.delete(w.nonce);
      this.makeReady(w);
    }
    this.noteStalled(q);
  }

  private noteStalled(q: SenderQueue): void {
    if (q.waiting.size > 0 && q.active === 0) this.stalled.add(q);
    else this.stalled.delete(q);
  }
}

const NOTHING_KNOWN: AdmitOptions = {};
/** Never written: `admit` gives a sender queue a Map of its own before its first waiting entry. */
const NO_WAITING: Map<number, PendingTx> = new Map();

/**
 * `txId` (SHA-256 of the body) on libsodium: half the CPU of node:crypto's one-shot `hash` per call
 * (measured ~1.1 against ~2.1 µs), and the output comes from Buffer's slab, not an ArrayBuffer
 * of its own. The mempool test checks it equals `txId`.
 */
export function admissionTxId(bytes: Uint8Array, offset: number, len = TX_SIZE): Buffer {
  // sodium-native misreads SharedArrayBuffer-backed input (DESIGN.md): those take node:crypto.
  if (bytes.buffer instanceof SharedArrayBuffer) return txIdAt(bytes, offset, len);
  const id = Buffer.allocUnsafe(32);
  sodium.crypto_hash_sha256(id, bytes.subarray(offset, offset + bodyLengthAt(bytes, offset, len)));
  return id;
}

function reject(code: number): { ok: false; code: RejectName } {
  return { ok: false, code: rejectName(code) as RejectName };
}
