import { createServer, connect, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { pino, type Logger } from 'pino';
import { sodiumSecretKey } from '../../src/crypto/ed25519.js';
import { PeerTransport, type PeerInfo, type PeerTransportOptions } from '../../src/network/transport.js';
import { FrameDecoder, FrameKind, frameHeader, type Frame } from '../../src/network/frame.js';
import { PROTOCOL_VERSION, decodeHello, encodeHello, newChallenge, signTranscript, transcript, type Hello } from '../../src/network/handshake.js';
import { KxKeyPair, SealedChannel } from '../../src/network/channel.js';

export const HOST = '127.0.0.1';

export interface Key {
  seed: Buffer;
  publicKey: Buffer;
}

export function makeKeys(n: number): Key[] {
  return Array.from({ length: n }, () => {
    const seed = randomBytes(32);
    return { seed, publicKey: sodiumSecretKey(seed).publicKey };
  });
}

/** Reserve distinct free ports by binding and releasing them (the window for a clash on loopback is tiny). */
export async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((res) => {
          const s = createServer();
          s.listen(0, HOST, () => res(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

export interface LogLine {
  level: number;
  msg: string;
  code?: string;
  [k: string]: unknown;
}

export function captureLogger(): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as LogLine) });
  return { logger, lines };
}

export interface Node {
  t: PeerTransport;
  received: { from: number; msg: unknown }[];
  ups: number[];
  downs: { index: number; reason: string }[];
  lines: LogLine[];
}

export function validatorSet(keys: Key[], ports: number[]): PeerInfo[] {
  return keys.map((k, i) => ({ index: i, publicKey: k.publicKey, host: HOST, port: ports[i]! }));
}

/** Fast timers so reconnect and failure paths finish well inside a test's time budget. */
export const FAST: Partial<PeerTransportOptions> = {
  reconnectBaseMs: 20,
  reconnectMaxMs: 200,
  handshakeTimeoutMs: 2_000,
};

export function makeNode(opts: PeerTransportOptions): Node {
  const { logger, lines } = captureLogger();
  const t = new PeerTransport({ ...FAST, logger, ...opts });
  const n: Node = { t, received: [], ups: [], downs: [], lines };
  t.onMessage((from, msg) => n.received.push({ from, msg }));
  t.onPeerUp((i) => n.ups.push(i));
  t.onPeerDown((index, reason) => n.downs.push({ index, reason }));
  return n;
}

export async function startCluster(count: number, extra: Partial<PeerTransportOptions> = {}): Promise<{ nodes: Node[]; keys: Key[]; ports: number[]; set: PeerInfo[] }> {
  const keys = makeKeys(count);
  const ports = await freePorts(count);
  const set = validatorSet(keys, ports);
  const nodes = keys.map((k, i) => makeNode({ index: i, seed: k.seed, validators: set, chainId: 7, ...extra }));
  await Promise.all(nodes.map((n) => n.t.start()));
  return { nodes, keys, ports, set };
}

export async function waitFor(pred: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function fullyConnected(nodes: Node[]): boolean {
  return nodes.every((n) => n.t.connectedPeers().length === nodes.length - 1);
}

/**
 * A hand-driven peer speaking the wire protocol directly, to misbehave in ways PeerTransport never
 * would. It does the real key exchange, so once authenticated it can send sealed frames (`sendSealed`)
 * and read the server's sealed ones; `sendFrame` writes plaintext, which a sealed link must refuse.
 */
export class RawPeer {
  readonly socket: Socket;
  /** Received frames, decrypted once the server's AUTH went by. */
  readonly frames: Frame[] = [];
  readonly decoder = new FrameDecoder(1 << 30);
  readonly challenge = newChallenge();
  readonly kx = new KxKeyPair();
  serverHello: Hello | undefined;
  /** Index this peer claimed in its HELLO (decides the crypto_kx roles). */
  claimedIndex: number | undefined;
  private channel: SealedChannel | undefined;
  private serverSealing = false;
  closed: Promise<void>;

  constructor(port: number, localAddress?: string) {
    this.socket = connect({ host: HOST, port, ...(localAddress ? { localAddress } : {}) });
    this.socket.on('error', () => {});
    this.closed = new Promise((r) => this.socket.once('close', () => r()));
    this.socket.on('data', (c: Buffer) => {
      this.decoder.push(c);
      try {
        for (let f = this.decoder.next(); f; f = this.decoder.next()) {
          const frame = this.serverSealing ? { kind: f.kind, body: this.session().open(f.kind, Buffer.from(f.body)) } : f;
          this.frames.push(frame);
          if (f.kind === FrameKind.HELLO && !this.serverSealing) this.serverHello = decodeHello(Buffer.from(f.body));
          if (f.kind === FrameKind.AUTH && !this.serverSealing) this.serverSealing = true;
        }
      } catch {
        this.socket.destroy();
      }
    });
  }

  private session(): SealedChannel {
    if (!this.channel) {
      const keys = this.kx.deriveSessionKeys(this.claimedIndex! < this.serverHello!.index, this.serverHello!.kxPublicKey);
      this.channel = new SealedChannel(keys.tx, keys.rx);
    }
    return this.channel;
  }

  /** A frame sealed with this connection's session keys (only valid after our AUTH). */
  sendSealed(kind: number, body: Buffer): void {
    this.socket.write(this.session().seal(kind as FrameKind, body));
  }

  connected(): Promise<void> {
    return new Promise((r) => (this.socket.readyState === 'open' ? r() : this.socket.once('connect', () => r())));
  }

  sendFrame(kind: number, body: Buffer): void {
    this.socket.write(Buffer.concat([frameHeader(kind as FrameKind, body.length), body]));
  }

  sendHello(h: { index: number; publicKey: Buffer; chainId: number; version?: number }): void {
    this.claimedIndex = h.index;
    this.sendFrame(
      FrameKind.HELLO,
      encodeHello({
        version: h.version ?? PROTOCOL_VERSION,
        chainId: h.chainId,
        index: h.index,
        publicKey: h.publicKey,
        challenge: this.challenge,
        kxPublicKey: this.kx.publicKey,
      }),
    );
  }

  /** Signs the transcript a real validator `index` would sign, but with `signingSeed`. */
  async sendAuth(index: number, chainId: number, signingSeed: Buffer): Promise<void> {
    await waitFor(() => this.serverHello !== undefined, 3_000, 'server HELLO');
    const sh = this.serverHello!;
    const t = transcript({
      chainId,
      version: PROTOCOL_VERSION,
      verifierChallenge: sh.challenge,
      signerChallenge: this.challenge,
      signerIndex: index,
      verifierIndex: sh.index,
      verifierKx: sh.kxPublicKey,
      signerKx: this.kx.publicKey,
    });
    this.sendFrame(FrameKind.AUTH, signTranscript(t, sodiumSecretKey(signingSeed).secretKey));
  }

  closeFrameCode(): string | undefined {
    const f = this.frames.find((x) => x.kind === FrameKind.CLOSE);
    return f ? Buffer.from(f.body).toString('utf8') : undefined;
  }

  destroy(): void {
    this.socket.destroy();
  }
}
