import { parentPort } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { Ledger, type Applied } from '../execution/ledger.js';
import type { LedgerReply, LedgerRequest } from './ledger-protocol.js';

/**
 * The ledger thread: owns execution state (or the shard workers that do) and the LMDB writer of
 * each ledger it runs (one per node; several when the nodes of a `hotledger host` share it).
 * Blocks of a ledger are applied one after another as they arrive; each commit is reported only
 * once its write is durable, so block n+1 executes while block n is flushing.
 */
if (!parentPort) throw new Error('ledger-worker must run as a worker thread');
const port = parentPort;

interface LedgerRun {
  ledger: Ledger | undefined;
  applying: Promise<void>;
  /** The previous block's acknowledgement: replies leave strictly in block order. */
  acked: Promise<void>;
  /**
   * The first block that failed (a full disk or map, typed by the store). No later block is
   * applied: execution state in memory is ahead of the disk, and LMDB would commit a later block
   * over the hole. The coordinator stops; a restart resumes from the last whole block on disk.
   */
  failed: unknown;
}

const runs = new Map<number, LedgerRun>();

function runOf(id: number): LedgerRun {
  let r = runs.get(id);
  if (!r) {
    r = { ledger: undefined, applying: Promise.resolve(), acked: Promise.resolve(), failed: undefined };
    runs.set(id, r);
  }
  return r;
}

function reply(m: LedgerReply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(m, transfer);
}

function replyError(id: number, seq: number | undefined, e: unknown): void {
  const r = runOf(id);
  if (seq !== undefined) r.failed ??= e;
  const err = e as { code?: string; message?: string };
  reply({ type: 'error', ledger: id, seq, code: err.code ?? 'INTERNAL', message: err.message ?? String(e) });
}

port.on('message', (m: LedgerRequest) => {
  const r = runOf(m.ledger);
  const run = m.type === 'init' ? init(m) : m.type === 'block' ? (r.applying = r.applying.then(() => applyBlock(r, m))) : close(m.ledger);
  void run.catch((e: unknown) => replyError(m.ledger, m.type === 'block' ? m.seq : undefined, e));
});

async function init(m: Extract<LedgerRequest, { type: 'init' }>): Promise<void> {
  const ledger = await Ledger.open({ ...m.options, genesis: m.options.genesis.map((g) => ({ publicKey: Buffer.from(g.publicKey), balance: g.balance })) });
  runOf(m.ledger).ledger = ledger;
  const t = ledger.tip;
  reply({ type: 'ready', ledger: m.ledger, tip: { height: t.height, hash: t.hash, stateRoot: t.stateRoot } });
}

async function applyBlock(r: LedgerRun, m: Extract<LedgerRequest, { type: 'block' }>): Promise<void> {
  const ledger = r.ledger;
  if (!ledger) throw new Error('ledger not initialised');
  if (r.failed !== undefined) throw r.failed;
  const t0 = performance.now();
  const applied = await ledger.apply({
    txs: Buffer.from(m.txs),
    count: m.count,
    verified: new Uint8Array(m.verified),
    ids: Buffer.from(m.ids),
    timestamp: m.timestamp,
    round: m.round,
    batches: m.batches,
  });
  const cacheSize = ledger.state.size;
  // Not awaited: the next block executes while this one flushes. LMDB makes commits durable in
  // order, but lmdb-js may resolve the promises of back-to-back blocks out of order (seen: block
  // n's acknowledged after n+1..n+3 during catch-up, so the node reported height n as its tip and
  // stalled there). Chaining restores the order; durability of n+1 implies that of n anyway.
  const durable = applied.durable;
  r.acked = r.acked
    .then(() => durable)
    .then(
      () => replyCommitted(m.ledger, m.seq, applied, t0, cacheSize),
      (e: unknown) => replyError(m.ledger, m.seq, e),
    );
}

function replyCommitted(id: number, seq: number, applied: Applied, t0: number, cacheSize: number): void {
  const statuses = applied.statuses.buffer as ArrayBuffer;
  const h = applied.header;
  reply(
    {
      type: 'committed',
      ledger: id,
      seq,
      height: h.height,
      hash: applied.hash,
      parentHash: h.parentHash,
      stateRoot: h.stateRoot,
      parentStateRoot: h.parentStateRoot,
      timestamp: h.timestamp,
      statuses,
      committed: h.committed,
      rejected: h.rejected,
      executeMs: applied.executeMs,
      persistMs: performance.now() - t0 - applied.executeMs,
      cacheSize,
    },
    [statuses],
  );
}

async function close(id: number): Promise<void> {
  const r = runOf(id);
  await r.applying.catch(() => undefined);
  await r.ledger?.close();
  runs.delete(id);
  reply({ type: 'closed', ledger: id });
}
