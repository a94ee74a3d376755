import WebSocket from 'ws';
import { generateTransfers, devnetKeyPair } from '../workload/generate.js';
import { txId } from '../tx/codec.js';
import { TX_SIZE } from '../tx/layout.js';
import type { KeyPair } from '../crypto/keys.js';
import { postTxs } from './http.js';
import type { ClusterSupervisor } from './supervisor.js';

/** Devnet account index of the first load recipient; recipients never send. */
export const LOAD_RECIPIENT_BASE = 500_000;
export const LOAD_RECIPIENTS = 64;

/**
 * Steady signed load for fault tests: validator j gets its own senders (so nonces never collide
 * across mempools), `perTick` transfers every `tickMs`, one POST at a time per validator (nonce order).
 * A validator that is down (or paused by the caller) is skipped; its stream goes on where it stopped.
 */
export class SteadyLoad {
  private readonly streams: Buffer[];
  private readonly sent: number[];
  private readonly senders: KeyPair[][];
  private readonly recipients: Uint8Array[];
  private timer: NodeJS.Timeout | undefined;
  private readonly busy: boolean[];
  private readonly paused: boolean[];
  readonly errors: string[] = [];
  accepted = 0;
  rejected = 0;

  constructor(
    private readonly sup: ClusterSupervisor,
    private readonly chainId: number,
    firstAccount: number,
    sendersPerValidator: number,
    private readonly perTick: number,
    private readonly tickMs: number,
    private readonly maxTxsPerValidator: number,
  ) {
    const n = sup.size;
    this.recipients = loadRecipients(chainId);
    this.senders = Array.from({ length: n }, (_, j) => Array.from({ length: sendersPerValidator }, (_, s) => devnetKeyPair(chainId, firstAccount + j * sendersPerValidator + s)));
    this.streams = this.senders.map((senders) => generateTransfers({ chainId, senders, recipients: this.recipients, count: maxTxsPerValidator }));
    this.sent = new Array<number>(n).fill(0);
    this.busy = new Array<boolean>(n).fill(false);
    this.paused = new Array<boolean>(n).fill(false);
  }

  start(): void {
    this.timer = setInterval(() => this.tick(), this.tickMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Stop sending to validator j (e.g. while it is SIGSTOPped or replaying) without ending its stream. */
  pause(j: number): void {
    this.paused[j] = true;
  }

  resume(j: number): void {
    this.paused[j] = false;
  }

  /** Resolves once no POST is in flight (after pause() or stop()). */
  async idle(timeoutMs = 10_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (this.busy.some(Boolean) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  }

  /** The senders of validator j's stream. */
  sendersOf(j: number): readonly KeyPair[] {
    return this.senders[j]!;
  }

  /**
   * Re-signs validator j's remaining stream from the given next nonces (one per sender): txs it had
   * admitted but lost in a crash would otherwise leave a nonce gap that blocks that lane for good.
   */
  resync(j: number, nextNonces: number[]): void {
    const left = Math.max(0, this.maxTxsPerValidator - this.sent[j]!);
    this.streams[j] = generateTransfers({ chainId: this.chainId, senders: this.senders[j]!, recipients: this.recipients, count: left, startNonces: nextNonces });
    this.sent[j] = 0;
  }

  /** Ids (hex) of every tx some validator admitted, with the validator. */
  readonly admitted: { id: string; validator: number }[] = [];

  private tick(): void {
    for (let j = 0; j < this.streams.length; j++) {
      if (this.busy[j] || this.paused[j] || !this.sup.isRunning(j)) continue;
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

/** The accounts SteadyLoad pays: devnet keys LOAD_RECIPIENT_BASE.. (not funded in genesis). */
export function loadRecipients(chainId: number): Uint8Array[] {
  return Array.from({ length: LOAD_RECIPIENTS }, (_, i) => devnetKeyPair(chainId, LOAD_RECIPIENT_BASE + i).publicKey);
}

export interface SeenBlock {
  height: number;
  hash: string;
  stateRoot: string;
  at: number;
  /** Transactions of the block that failed in execution (e.g. NONCE_GAP). */
  rejected: number;
  /** Ids of the block's transactions when it had rejections (the others are all committed). */
  ids?: string[];
}

/** WebSocket block stream (with tx ids) of one validator: what it committed, and when. */
export class BlockWatcher {
  readonly blocks: SeenBlock[] = [];
  /** Every tx id of every block seen (committed and execution-rejected alike). */
  readonly committed = new Set<string>();
  /** Called for each block, with its tx ids. */
  onBlock: ((b: SeenBlock, ids: string[]) => void) | undefined;
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
      const m = JSON.parse(String(data)) as { type: string; block?: { height: number; hash: string; stateRoot: string; rejected: number }; txIds?: string[] };
      if (m.type !== 'block' || !m.block) return;
      const ids = m.txIds ?? [];
      const b: SeenBlock = { height: m.block.height, hash: m.block.hash, stateRoot: m.block.stateRoot, at: Date.now(), rejected: m.block.rejected };
      if (b.rejected > 0) b.ids = ids;
      w.blocks.push(b);
      for (const id of ids) w.committed.add(id);
      w.onBlock?.(b, ids);
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
