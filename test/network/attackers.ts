import { connect, createServer, type Server, type Socket } from 'node:net';
import { FrameDecoder, FrameKind, frameHeader } from '../../src/network/frame.js';
import { HOST } from './helpers.js';

export interface HogOptions {
  /** Sockets kept open (or reopened) against each port. */
  perPort: number;
  /** Local addresses the sockets are spread over, round-robin (loopback: 127.0.0.x all route here). */
  localAddresses: string[];
  /** 'idle' sends nothing; 'trickle' starts a HELLO frame and sends one more byte every `trickleMs`. */
  mode: 'idle' | 'trickle';
  trickleMs?: number;
  /** Upper bound on new connections per second over all ports, so the attack stays bounded on a shared box. */
  maxConnectsPerSec: number;
}

/**
 * A stranger that holds as many sockets open against each validator's peer port as it can: every
 * socket the validator closes (eviction, timeout, refusal) is reopened at once, within a connect-rate
 * budget. It never completes a handshake.
 */
export class SocketHog {
  readonly open = new Map<number, Set<Socket>>();
  connects = 0;
  private stopped = false;
  private tokens: number;
  private readonly waiting: (() => void)[] = [];
  private readonly refill: NodeJS.Timeout;
  private readonly timers = new Set<NodeJS.Timeout>();
  private nextAddress = 0;

  constructor(private readonly o: HogOptions) {
    this.tokens = o.maxConnectsPerSec / 20;
    this.refill = setInterval(() => {
      this.tokens = Math.min(this.o.maxConnectsPerSec / 20, this.tokens + this.o.maxConnectsPerSec / 20);
      while (this.tokens >= 1 && this.waiting.length > 0) {
        this.tokens--;
        this.waiting.shift()!();
      }
    }, 50);
  }

  /** Start holding sockets against `port` (a listener that is up: refused connects would waste the budget). */
  attack(port: number): void {
    this.open.set(port, new Set());
    for (let i = 0; i < this.o.perPort; i++) this.spawn(port);
  }

  /** Sockets currently connected to `port` (TCP-wise; the server may not have noticed a close yet). */
  connectedTo(port: number): number {
    return [...this.open.get(port)!].filter((s) => s.readyState === 'open').length;
  }

  private spawn(port: number): void {
    if (this.stopped) return;
    if (this.tokens >= 1) {
      this.tokens--;
      this.connectNow(port);
    } else this.waiting.push(() => this.connectNow(port));
  }

  private connectNow(port: number): void {
    if (this.stopped) return;
    const localAddress = this.o.localAddresses[this.nextAddress++ % this.o.localAddresses.length]!;
    const s = connect({ host: HOST, port, localAddress });
    this.connects++;
    this.open.get(port)!.add(s);
    s.on('error', () => {});
    s.on('data', () => {}); // read and ignore the validator's HELLO
    s.once('connect', () => {
      if (this.o.mode !== 'trickle') return;
      // A HELLO frame header announcing a full-size body, then the body one byte at a time.
      s.write(frameHeader(FrameKind.HELLO, 106));
      let sent = 0;
      const t = setInterval(() => {
        if (s.destroyed || sent >= 105) return clearInterval(t);
        s.write(Buffer.from([sent++ === 0 ? 0 : 0x02]));
      }, this.o.trickleMs ?? 100);
      this.timers.add(t);
      s.once('close', () => {
        clearInterval(t);
        this.timers.delete(t);
      });
    });
    s.once('close', () => {
      this.open.get(port)!.delete(s);
      this.spawn(port);
    });
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.refill);
    for (const t of this.timers) clearInterval(t);
    for (const set of this.open.values()) for (const s of set) s.destroy();
  }
}

export type RelayAttack = { kind: 'flip' } | { kind: 'replay' } | { kind: 'inject'; frame: Buffer };

/**
 * An on-path relay: a TCP proxy the dialing validator is configured to reach instead of the real
 * peer. It forwards both directions, re-framing the dialer→listener stream so it can tamper with
 * whole frames: flip a byte of the next DATA frame, replay an earlier DATA frame of the same
 * connection right after the next one, or inject a frame of its own at a frame boundary.
 */
export class Relay {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private armed: RelayAttack | undefined;
  /** Upstream sides of live relayed connections, newest last; `inject` writes into the newest. */
  private readonly upstreams: { up: Socket; dataFrames: Buffer[] }[] = [];
  connections = 0;
  tampered = 0;
  port = 0;

  constructor(private readonly targetPort: number) {}

  async start(): Promise<void> {
    const server = createServer((client) => this.relay(client));
    this.server = server;
    await new Promise<void>((r) => server.listen(0, HOST, () => r()));
    this.port = (server.address() as { port: number }).port;
  }

  /** The next DATA frame from the dialer is tampered with (flip/replay); `inject` acts at once. */
  arm(a: RelayAttack): void {
    if (a.kind === 'inject') {
      const u = this.upstreams.at(-1)!;
      u.up.write(a.frame);
      this.tampered++;
      return;
    }
    this.armed = a;
  }

  private relay(client: Socket): void {
    this.connections++;
    const up = connect({ host: HOST, port: this.targetPort });
    const entry = { up, dataFrames: [] as Buffer[] };
    this.upstreams.push(entry);
    for (const s of [client, up]) {
      this.sockets.add(s);
      s.on('error', () => {});
      s.once('close', () => {
        this.sockets.delete(s);
        client.destroy();
        up.destroy();
        const i = this.upstreams.indexOf(entry);
        if (i >= 0) this.upstreams.splice(i, 1);
      });
    }
    up.on('data', (c: Buffer) => client.write(c));
    const decoder = new FrameDecoder(1 << 30);
    client.on('data', (c: Buffer) => {
      decoder.push(c);
      for (let f = decoder.next(); f; f = decoder.next()) {
        let wire = Buffer.concat([frameHeader(f.kind as FrameKind, f.body.length), f.body]);
        if (f.kind !== FrameKind.DATA) {
          up.write(wire);
          continue;
        }
        const a = this.armed;
        if (a?.kind === 'flip') {
          this.armed = undefined;
          this.tampered++;
          wire = Buffer.from(wire);
          wire[wire.length - 1]! ^= 0x01;
          up.write(wire);
        } else if (a?.kind === 'replay' && entry.dataFrames.length > 0) {
          this.armed = undefined;
          this.tampered++;
          up.write(wire);
          up.write(entry.dataFrames[0]!);
        } else up.write(wire);
        entry.dataFrames.push(wire);
      }
    });
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
