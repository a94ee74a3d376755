import { parentPort } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { Ledger, type Applied } from '../execution/ledger.js';
import type { LedgerReply, LedgerRequest } from './ledger-protocol.js';

/**
 * The ledger thread: owns execution state (or the shard workers that do) and the LMDB writer.
 * Blocks are applied one after another as they arrive; each commit is reported only once its
 * write is durable, so block n+1 executes while block n is flushing.
 */
if (!parentPort) throw new Error('ledger-worker must run as a worker thread');
const port = parentPort;
let ledger: Ledger | undefined;
let applying: Promise<void> = Promise.resolve();
/** The previous block's acknowledgement: replies leave strictly in block order. */
let acked: Promise<void> = Promise.resolve();
/**
 * The first block that failed (a full disk or map, typed by the store). No later block is applied:
 * execution state in memory is ahead of the disk, and LMDB would commit a later block over the
 * hole. The coordinator stops; a restart resumes from the last whole block on disk.
 */
let failed: unknown;

function reply(m: LedgerReply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(m, transfer);
}

function replyError(seq: number | undefined, e: unknown): void {
  if (seq !== undefined) failed ??= e;
  const err = e as { code?: string; message?: string };
  reply({ type: 'error', seq, code: err.code ?? 'INTERNAL', message: err.message ?? String(e) });
}

port.on('message', (m: LedgerRequest) => {
  const run = m.type === 'init' ? init(m) : m.type === 'block' ? (applying = applying.then(() => applyBlock(m))) : close();
  void run.catch((e: unknown) => replyError(m.type === 'block' ? m.seq : undefined, e));
});

async function init(m: Extract<LedgerRequest, { type: 'init' }>): Promise<void> {
  ledger = await Ledger.open({ ...m.options, genesis: m.options.genesis.map((g) => ({ publicKey: Buffer.from(g.publicKey), balance: g.balance })) });
  const t = ledger.tip;
  reply({ type: 'ready', tip: { height: t.height, hash: t.hash, stateRoot: t.stateRoot } });
}

async function applyBlock(m: Extract<LedgerRequest, { type: 'block' }>): Promise<void> {
  if (!ledger) throw new Error('ledger not initialised');
  if (failed !== undefined) throw failed;
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
  acked = acked
    .then(() => durable)
    .then(
      () => replyCommitted(m.seq, applied, t0, cacheSize),
      (e: unknown) => replyError(m.seq, e),
    );
}

function replyCommitted(seq: number, applied: Applied, t0: number, cacheSize: number): void {
  const statuses = applied.statuses.buffer as ArrayBuffer;
  const h = applied.header;
  reply(
    {
      type: 'committed',
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

async function close(): Promise<void> {
  await applying.catch(() => undefined);
  await ledger?.close();
  ledger = undefined;
  reply({ type: 'closed' });
}
