import type { ContractReceipt } from './client.js';
import { openSocket, textOf, type MinimalSocket } from './socket.js';

const OPEN = 1;

/** `contract`: the receipt of a deploy or call, when the node sent it with the outcome. */
export type Outcome =
  | { status: 'committed'; id: string; height: number; position: number; contract?: ContractReceipt }
  | { status: 'rejected'; id: string; code: string; message: string; height?: number };

/**
 * One WebSocket per endpoint carrying `watch` for every transaction this client waits on. If the
 * socket cannot open or closes, waiting ids get `undefined` (the caller then polls) and the next
 * watch opens a new socket.
 */
export class Watcher {
  private socket: Promise<MinimalSocket> | undefined;
  private readonly waiting = new Map<string, Set<(o: Outcome | undefined) => void>>();
  constructor(
    private readonly base: string,
    private readonly openTimeoutMs: number,
  ) {}

  /** The outcome, or undefined when the socket failed (fall back to polling). */
  async wait(id: string): Promise<Outcome | undefined> {
    let ws: MinimalSocket;
    try {
      ws = await this.connect();
      if (ws.readyState !== OPEN) {
        // Closed under us before its close event reached this client: open a new one.
        this.socket = undefined;
        ws = await this.connect();
      }
    } catch {
      return undefined;
    }
    return new Promise((resolve) => {
      let set = this.waiting.get(id);
      if (!set) this.waiting.set(id, (set = new Set()));
      set.add(resolve);
      try {
        ws.send(JSON.stringify({ op: 'watch', ids: [id] }));
      } catch {
        this.fail();
      }
    });
  }

  cancel(id: string): void {
    this.waiting.delete(id);
  }

  close(): void {
    const s = this.socket;
    this.socket = undefined;
    void s?.then(
      (ws) => ws.close(),
      () => undefined,
    );
    this.fail();
  }

  private connect(): Promise<MinimalSocket> {
    if (!this.socket) {
      const p = openSocket(this.base, this.openTimeoutMs).then((ws) => {
        ws.addEventListener('message', (ev: { data?: unknown }) => this.onMessage(textOf(ev.data)));
        ws.addEventListener('close', () => {
          if (this.socket === p) this.socket = undefined;
          this.fail();
        });
        return ws;
      });
      p.catch(() => {
        if (this.socket === p) this.socket = undefined;
      });
      this.socket = p;
    }
    return this.socket;
  }

  private onMessage(text: string): void {
    let m: { type?: string; id?: string } & Record<string, unknown>;
    try {
      m = JSON.parse(text);
    } catch {
      return;
    }
    if (m.type === 'error') {
      // A refused watch (rate limit, too many ids): those waiting fall back to polling.
      this.fail();
      return;
    }
    if (m.type !== 'tx' || typeof m.id !== 'string') return;
    const set = this.waiting.get(m.id);
    if (!set) return;
    this.waiting.delete(m.id);
    for (const f of set) f(m as unknown as Outcome);
  }

  private fail(): void {
    const all = [...this.waiting.values()];
    this.waiting.clear();
    for (const set of all) for (const f of set) f(undefined);
  }
}
