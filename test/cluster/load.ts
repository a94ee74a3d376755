import WebSocket from 'ws';
import { generateTransfers, devnetKeyPair } from '../../src/workload/generate.js';
import { txId } from '../../src/tx/codec.js';
import { TX_SIZE } from '../../src/tx/layout.js';
import { postTxs } from '../../src/cluster/http.js';
import type { ClusterSupervisor } from '../../src/cluster/supervisor.js';

/**
 * Steady signed load for fault tests: validator j gets its own senders (so nonces never collide
 * across mempools), `perTick` transfers every `tickMs`, one POST at a time per validator (nonce order).
 * A validator that is down is skipped; its remaining stream is never sent.
 */
export class SteadyLoad {
  private readonly streams: Buffer[];
  private readonly sent: number[];
  private timer: NodeJS.Timeout | undefined;
  private readonly busy: boolean[];
  readonly errors: string[] = [];
  accepted = 0;
  rejected = 0;

  constructor(
    private readonly sup: ClusterSupervisor,
    chainId: number,
    firstAccount: number,
    sendersPerValidator: number,
    private readonly perTick: number,
    private readonly tickMs: number,
    maxTxsPerValidator: number,
  ) {
    const n = sup.size;
    const recipients = Array.from({ length: 64 }, (_, i) => devnetKeyPair(chainId, 500_000 + i).publicKey);
    this.streams = Array.from({ length: n }, (_, j) => generateTransfers({
      chainId,
      senders: Array.from({ length: sendersPerValidator }, (_, s) => devnetKeyPair(chainId, firstAccount + j * sendersPerValidator + s)),
      recipients,
      count: maxTxsPerValidator,
    }));
    this.sent = new Array<number>(n).fill(0);
    this.busy = new Array<boolean>(n).fill(false);
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.tickMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Ids (hex) of every tx some validator admitted, with the validator. */
  readonly admitted: { id: string; validator: number }[] = [];

  private tick(): void {
    for (let j = 0; j < this.streams.length; j++) {
      if (this.busy[j] || !this.sup.isRunning(j)) continue;
      const total = this.streams[j]!.length / TX_SIZE;
      const from = this.sent[j]!;
      const to = Math.min(total, from + this.perTick);
      if (to <= from) continue;
      const body = this.streams[j]!.subarray(from * TX_SIZE, to * TX_SIZE);
      this.busy[j] = true;
      this.sent[j] = to;
      postTxs(this.sup.url(j), Buffer.from(body), 5_000)
        .then((a) => {
          this.accepted += a.accepted;
          this.rejected += a.rejected;
          if (a.rejected === 0) for (let i = 0; i < to - from; i++) this.admitted.push({ id: txId(body, i * TX_SIZE).toString('hex'), validator: j });
          else this.errors.push(`v${j}: HTTP ${a.status} ${a.codes.slice(0, 3).join(',')}`);
        })
        .catch((e: unknown) => this.errors.push(`v${j}: ${(e as Error).message}`))
        .finally(() => (this.busy[j] = false));
    }
  }
}

export interface SeenBlock {
  height: number;
  stateRoot: string;
  at: number;
  /** Transactions of the block that failed in execution (e.g. NONCE_GAP). */
  rejected: number;
}

/** WebSocket block stream (with tx ids) of one validator: what it committed, and when. */
export class BlockWatcher {
  readonly blocks: SeenBlock[] = [];
  readonly committed = new Set<string>();
  private ws: WebSocket | undefined;

  static async open(base: string): Promise<BlockWatcher> {
    const w = new BlockWatcher();
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/api/v11/ws`);
    w.ws = ws;
    await new Promise<void>((res, rej) => {
      ws.once('open', () => res());
      ws.once('error', rej);
    });
    ws.on('error', () => undefined);
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as { type: string; block?: { height: number; stateRoot: string; rejected: number }; txIds?: string[] };
      if (m.type !== 'block' || !m.block) return;
      w.blocks.push({ height: m.block.height, stateRoot: m.block.stateRoot, at: Date.now(), rejected: m.block.rejected });
      for (const id of m.txIds ?? []) w.committed.add(id);
    });
    const subscribed = new Promise<void>((res) => {
      const on = (data: WebSocket.RawData) => {
        if ((JSON.parse(String(data)) as { type: string }).type === 'subscribed') {
          ws.off('message', on);
          res();
        }
      };
      ws.on('message', on);
    });
    ws.send(JSON.stringify({ op: 'subscribe', topic: 'blocks', txIds: true }));
    await subscribed;
    return w;
  }

  close(): void {
    this.ws?.terminate();
  }
}
