import { createServer, connect, type Server, type Socket } from 'node:net';

/** What happens to the bytes flowing from one validator to another. */
export type FlowMode = { kind: 'pass' } | { kind: 'delay'; ms: number } | { kind: 'drop' };

export interface Endpoint {
  host: string;
  port: number;
}

export interface FaultNetStats {
  connections: number;
  refused: number;
  forwardedBytes: number;
  droppedBytes: number;
}

const PASS: FlowMode = { kind: 'pass' };
/** A delayed flow stops reading its source beyond this many queued bytes (TCP back-pressure, not memory). */
const MAX_DELAYED_BYTES = 8 * 1024 * 1024;

/**
 * The network between validators, under the campaign's control: one TCP proxy per directed link
 * (validator `from` dials validator `to` at `address(from, to)`; the proxy forwards to `to`'s real
 * peer port). It never parses frames (the links are authenticated and encrypted end to end), it
 * only moves, delays, drops or cuts bytes and connections. A mode applies to a direction of
 * traffic (bytes from a to b), whichever side dialed the connection that carries them.
 */
export class FaultNet {
  private readonly servers = new Map<string, Server>();
  private readonly ports = new Map<string, number>();
  private readonly flows = new Map<string, FlowMode>();
  private readonly cuts = new Set<string>();
  private readonly conns = new Set<ProxiedConnection>();
  private readonly counters: FaultNetStats = { connections: 0, refused: 0, forwardedBytes: 0, droppedBytes: 0 };

  private constructor(
    private readonly targets: Endpoint[],
    private readonly host: string,
  ) {}

  /** Opens a proxy on a free loopback port for every ordered pair of the given validators' peer addresses. */
  static async open(targets: Endpoint[], host = '127.0.0.1'): Promise<FaultNet> {
    const net = new FaultNet(targets, host);
    try {
      for (let from = 0; from < targets.length; from++) {
        for (let to = 0; to < targets.length; to++) if (from !== to) await net.listen(from, to);
      }
    } catch (e) {
      await net.close();
      throw e;
    }
    return net;
  }

  /** Where validator `from` should dial validator `to`. */
  address(from: number, to: number): Endpoint {
    const port = this.ports.get(key(from, to));
    if (port === undefined) throw new RangeError(`no proxy for link v${from} -> v${to}`);
    return { host: this.host, port };
  }

  get size(): number {
    return this.targets.length;
  }

  stats(): FaultNetStats {
    return { ...this.counters };
  }

  flow(a: number, b: number): FlowMode {
    return this.flows.get(key(a, b)) ?? PASS;
  }

  /** Sets what happens to bytes from a to b (existing and new connections). */
  setFlow(a: number, b: number, mode: FlowMode): void {
    if (mode.kind === 'pass') this.flows.delete(key(a, b));
    else this.flows.set(key(a, b), mode);
  }

  /** Bytes between different groups are dropped both ways (a black hole: TCP stays up, nothing arrives). */
  partition(groups: number[][]): void {
    const groupOf = new Map<number, number>();
    groups.forEach((g, k) => g.forEach((i) => groupOf.set(i, k)));
    for (let a = 0; a < this.size; a++) {
      for (let b = 0; b < this.size; b++) {
        if (a !== b && groupOf.get(a) !== groupOf.get(b)) this.setFlow(a, b, { kind: 'drop' });
      }
    }
  }

  /** Every link of validator i delays its bytes by ms in both directions. */
  delayNode(i: number, ms: number): void {
    for (let j = 0; j < this.size; j++) {
      if (j === i) continue;
      this.setFlow(i, j, { kind: 'delay', ms });
      this.setFlow(j, i, { kind: 'delay', ms });
    }
  }

  /** a's bytes to b are dropped; b's bytes to a still arrive. */
  oneWay(a: number, b: number): void {
    this.setFlow(a, b, { kind: 'drop' });
  }

  /** Connections between a and b are reset and new ones refused (a firewall REJECT). */
  cut(a: number, b: number): void {
    this.cuts.add(pairKey(a, b));
    for (const c of [...this.conns]) if (pairKey(c.from, c.to) === pairKey(a, b)) c.destroy(true);
  }

  /**
   * Every flow passes again and cuts are lifted. A connection that lost bytes is reset: TCP never
   * delivers a stream with a hole in it, so forwarding the rest would be a fault no real network makes.
   */
  heal(): void {
    this.flows.clear();
    this.cuts.clear();
    for (const c of [...this.conns]) if (c.torn) c.destroy(true);
  }

  async close(): Promise<void> {
    for (const c of [...this.conns]) c.destroy(true);
    await Promise.all([...this.servers.values()].map((s) => new Promise<void>((r) => s.close(() => r()))));
    this.servers.clear();
  }

  /** @internal */
  count(kind: 'forwardedBytes' | 'droppedBytes', n: number): void {
    this.counters[kind] += n;
  }

  /** @internal */
  forget(c: ProxiedConnection): void {
    this.conns.delete(c);
  }

  private async listen(from: number, to: number): Promise<void> {
    const server = createServer({ noDelay: true }, (client) => this.accept(from, to, client));
    await new Promise<void>((res, rej) => {
      server.once('error', rej);
      server.listen(0, this.host, () => {
        server.off('error', rej);
        res();
      });
    });
    server.on('error', () => undefined);
    this.servers.set(key(from, to), server);
    this.ports.set(key(from, to), (server.address() as { port: number }).port);
  }

  private accept(from: number, to: number, client: Socket): void {
    if (this.cuts.has(pairKey(from, to))) {
      this.counters.refused++;
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    this.counters.connections++;
    this.conns.add(new ProxiedConnection(this, from, to, client, this.targets[to]!));
  }
}

/** One dialed connection: `from` dialed `to` through the proxy. */
class ProxiedConnection {
  /** Some bytes of this stream were dropped: it cannot be healed, only reset. */
  torn = false;
  private readonly upstream: Socket;
  private closed = false;

  constructor(
    private readonly net: FaultNet,
    readonly from: number,
    readonly to: number,
    private readonly client: Socket,
    target: Endpoint,
  ) {
    this.upstream = connect({ host: target.host, port: target.port, noDelay: true });
    for (const s of [client, this.upstream]) {
      s.on('error', () => this.destroy(false));
      s.on('close', () => this.destroy(false));
    }
    // Bytes the dialer sends flow from -> to; the answers flow to -> from.
    new Pipe(net, this, client, this.upstream, from, to);
    new Pipe(net, this, this.upstream, client, to, from);
  }

  destroy(reset: boolean): void {
    if (this.closed) return;
    this.closed = true;
    this.net.forget(this);
    for (const s of [this.client, this.upstream]) {
      if (reset && !s.destroyed && typeof s.resetAndDestroy === 'function' && !s.connecting) s.resetAndDestroy();
      else s.destroy();
    }
  }
}

/** One direction of a proxied connection, applying the flow mode of (a -> b) to every chunk. */
class Pipe {
  private readonly queue: { due: number; chunk: Buffer }[] = [];
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly net: FaultNet,
    private readonly conn: ProxiedConnection,
    private readonly src: Socket,
    private readonly dst: Socket,
    private readonly a: number,
    private readonly b: number,
  ) {
    src.on('data', (chunk: Buffer) => this.onData(chunk));
    src.on('end', () => {
      if (this.queue.length === 0) dst.end();
    });
    dst.on('drain', () => src.resume());
  }

  private onData(chunk: Buffer): void {
    const mode = this.net.flow(this.a, this.b);
    if (mode.kind === 'drop') {
      this.conn.torn = true;
      this.net.count('droppedBytes', chunk.length);
      return;
    }
    if (mode.kind === 'delay' || this.queue.length > 0) {
      // Order is kept: once anything is queued, later chunks queue behind it even if the delay was lifted.
      this.queue.push({ due: Date.now() + (mode.kind === 'delay' ? mode.ms : 0), chunk });
      this.queuedBytes += chunk.length;
      if (this.queuedBytes > MAX_DELAYED_BYTES) this.src.pause();
      this.schedule();
      return;
    }
    this.write(chunk);
  }

  private write(chunk: Buffer): void {
    if (this.dst.destroyed) return;
    this.net.count('forwardedBytes', chunk.length);
    if (!this.dst.write(chunk)) this.src.pause();
  }

  private schedule(): void {
    if (this.timer || this.queue.length === 0) return;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        const now = Date.now();
        while (this.queue.length > 0 && this.queue[0]!.due <= now) {
          const { chunk } = this.queue.shift()!;
          this.queuedBytes -= chunk.length;
          this.write(chunk);
        }
        if (this.queuedBytes <= MAX_DELAYED_BYTES && !this.dst.writableNeedDrain) this.src.resume();
        if (this.queue.length === 0 && this.src.readableEnded) this.dst.end();
        this.schedule();
      },
      Math.max(0, this.queue[0]!.due - Date.now()),
    );
    this.timer.unref();
  }
}

function key(from: number, to: number): string {
  return `${from}>${to}`;
}

function pairKey(a: number, b: number): string {
  return a < b ? `${a}-${b}` : `${b}-${a}`;
}
