import { parentPort } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { Ledger } from '../execution/ledger.js';
import type { LedgerReply, LedgerRequest } from './ledger-protocol.js';

/**
 * The ledger thread: owns execution state and the LMDB writer. Blocks arrive in order; each is
 * executed at once and its write issued, and the commit is reported only once the write is
 * durable, so block n+1 executes while block n is flushing.
 */
if (!parentPort) throw new Error('ledger-worker must run as a worker thread');
const port = parentPort;
let ledger: Ledger | undefined;

function reply(m: LedgerReply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(m, transfer);
}

port.on('message', (m: LedgerRequest) => {
  void handle(m).catch((e: unknown) => {
    const err = e as { code?: string; message?: string };
    reply({ type: 'error', seq: m.type === 'block' ? m.seq : undefined, code: err.code ?? 'INTERNAL', message: err.message ?? String(e) });
  });
});

async function handle(m: LedgerRequest): Promise<void> {
  switch (m.type) {
    case 'init': {
      ledger = await Ledger.open({ ...m.options, genesis: m.options.genesis.map((g) => ({ publicKey: Buffer.from(g.publicKey), balance: g.balance })) });
      const t = ledger.tip;
      reply({ type: 'ready', tip: { height: t.height, hash: t.hash, stateRoot: t.stateRoot } });
      return;
    }
    case 'block': {
      if (!ledger) throw new Error('ledger not initialised');
      const t0 = performance.now();
      const applied = ledger.apply({
        txs: Buffer.from(m.txs), count: m.count, verified: new Uint8Array(m.verified), ids: Buffer.from(m.ids),
        timestamp: m.timestamp, round: m.round, batches: m.batches,
      });
      await applied.durable;
      const statuses = applied.statuses.buffer as ArrayBuffer;
      const h = applied.header;
      reply(
        {
          type: 'committed', seq: m.seq, height: h.height, hash: applied.hash, parentHash: h.parentHash, stateRoot: h.stateRoot,
          parentStateRoot: h.parentStateRoot, timestamp: h.timestamp, statuses, committed: h.committed, rejected: h.rejected,
          executeMs: applied.executeMs, persistMs: performance.now() - t0 - applied.executeMs, cacheSize: ledger.state.size,
        },
        [statuses],
      );
      return;
    }
    case 'close': {
      await ledger?.close();
      ledger = undefined;
      reply({ type: 'closed' });
      return;
    }
  }
}
