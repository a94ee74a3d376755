import { Worker } from 'node:worker_threads';
import { HotledgerError } from '../errors.js';
import { compiledPath } from '../runtime/module-path.js';
import type { LedgerReply, LedgerRequest } from './ledger-protocol.js';

/** What a ledger thread tells the client of one ledger. */
export interface LedgerEndpoint {
  onReply(m: LedgerReply): void;
  /** The thread died: every ledger on it fails. */
  onExit(e: Error): void;
}

/**
 * One worker thread that runs ledgers: one of its own per node, or one shared by the logical
 * nodes of a `hotledger host` process. A thread is a V8 isolate (~11-13 MB with lmdb loaded,
 * docs/cluster.md), most of what a hosted node cost beyond the first. Ledgers on one thread keep
 * their own order and state; they share its CPU (execution of one node's block waits for
 * another's), which on a machine with fewer cores than nodes is what happens anyway.
 */
export class LedgerThread {
  private readonly worker: Worker;
  private readonly ledgers = new Map<number, LedgerEndpoint>();
  private nextId = 0;
  private exited = false;

  constructor() {
    this.worker = new Worker(compiledPath('./ledger-worker.js', import.meta.url));
    this.worker.on('message', (m: LedgerReply) => this.ledgers.get(m.ledger)?.onReply(m));
    const die = (e: Error) => {
      if (this.exited) return;
      this.exited = true;
      for (const l of this.ledgers.values()) l.onExit(e);
    };
    this.worker.on('error', die);
    this.worker.on('exit', (code) => die(new HotledgerError('INTERNAL', `ledger thread exited with code ${code}`)));
  }

  get ledgerCount(): number {
    return this.ledgers.size;
  }

  /** A new ledger on this thread; its id goes with every message. */
  attach(endpoint: LedgerEndpoint): number {
    if (this.exited) throw new HotledgerError('INTERNAL', 'the ledger thread has exited');
    const id = ++this.nextId;
    this.ledgers.set(id, endpoint);
    return id;
  }

  detach(id: number): void {
    this.ledgers.delete(id);
  }

  post(m: LedgerRequest, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(m, transfer);
  }

  /** Stops the thread; its ledgers must be closed first (their last writes are flushed by then). */
  async close(): Promise<void> {
    this.exited = true;
    await this.worker.terminate();
  }
}
