import { createServer, connect, type Server, type Socket } from 'node:net';
import { pino, type Logger } from 'pino';
import type { Packr } from 'msgpackr';
import { ConfigError } from '../errors.js';
import { sodiumSecretKey } from '../crypto/ed25519.js';
import { Connection, type ConnectionContext, type MutableCounters } from './connection.js';
import { NetworkError, type NetErrorCode } from './errors.js';
import { FrameKind, createCodec } from './frame.js';
import { AEAD_TAG_BYTES } from './channel.js';
import { PendingSlots } from './pending-slots.js';
import { SendQueue, type OutFrame } from './send-queue.js';
import { resolveOptions, type PeerInfo, type PeerStats, type PeerTransportOptions, type ResolvedOptions, type TransportStats } from './options.js';

export type { PeerInfo, PeerStats, PeerTransportOptions, TransportStats } from './options.js';
export { TRANSPORT_DEFAULTS } from './options.js';

/**
 * Pending inbound handshakes that may claim one validator at once. An honest validator needs one
 * (two while a reconnect overlaps); a stranger replaying its public HELLO needs more to crowd it out.
 */
const PENDING_CLAIMS_PER_PEER = 2;

interface Peer {
  info: PeerInfo;
  queue: SendQueue;
  /** The authenticated link; only AUTH binds it, never a HELLO (public data anyone can replay). */
  link: Connection | undefined;
  /** Our own outbound connection still in its handshake. */
  dialing: Connection | undefined;
  up: boolean;
  dialTimer: NodeJS.Timeout | undefined;
  attempts: number;
  messagesOut: number;
  connects: number;
}

type Listener<A extends unknown[]> = (...args: A) => void;

/**
 * Authenticated, encrypted, framed TCP links between validators. One link per pair. The lower index
 * dials at once; the higher index dials too when it still has no link after `reverseDialDelayMs`,
 * because a stranger can fill a listener's pending slots but cannot block our own outbound dial.
 * When both dials authenticate, the one dialed by the lower index is kept on both ends (a rule each
 * side applies alone and reaches the same answer). Payloads are opaque msgpack values. Delivery is
 * at-most-once and FIFO per connection; frames in a socket buffer when the link dies are lost, which
 * consensus tolerates (timeouts, synchronizer).
 */
export class PeerTransport {
  private readonly o: ResolvedOptions;
  private readonly log: Logger;
  private readonly codec: Packr = createCodec();
  private readonly peers = new Map<number, Peer>();
  private readonly keyIndex = new Map<string, number>();
  private readonly conns = new Set<Connection>();
  private readonly pending: PendingSlots;
  private readonly ctx: ConnectionContext;
  private readonly counters: MutableCounters = {
    bytesIn: 0,
    bytesOut: 0,
    framesIn: 0,
    framesOut: 0,
    messagesIn: 0,
    handshakeFailures: 0,
    handshakeFailuresByCode: {},
    connectionErrors: 0,
    dialFailures: 0,
  };
  private readonly listeners = {
    message: [] as Listener<[number, unknown]>[],
    up: [] as Listener<[number]>[],
    down: [] as Listener<[number, NetErrorCode]>[],
  };
  private readonly listenHost: string;
  private readonly listenPort: number;
  private server: Server | undefined;
  private tickTimer: NodeJS.Timeout | undefined;
  private boundPort: number | undefined;
  private state: 'new' | 'starting' | 'running' | 'closed' = 'new';

  constructor(opts: PeerTransportOptions) {
    this.o = resolveOptions(opts);
    const self = opts.validators.find((v) => v.index === opts.index)!;
    const keys = sodiumSecretKey(opts.seed);
    if (!keys.publicKey.equals(Buffer.from(self.publicKey))) {
      throw new ConfigError(`the key seed does not match the public key of validator ${opts.index}`);
    }
    this.listenHost = opts.listenHost ?? self.host;
    this.listenPort = opts.listenPort ?? self.port;
    this.log = (opts.logger ?? pino({ level: 'info' })).child({ module: 'network', self: opts.index });
    for (const v of opts.validators) {
      this.keyIndex.set(Buffer.from(v.publicKey).toString('hex'), v.index);
      if (v.index === opts.index) continue;
      this.peers.set(v.index, {
        info: { ...v, publicKey: Buffer.from(v.publicKey) },
        queue: new SendQueue(this.o.maxQueueMessages, this.o.maxQueueBytes),
        link: undefined,
        dialing: undefined,
        up: false,
        dialTimer: undefined,
        attempts: 0,
        messagesOut: 0,
        connects: 0,
      });
    }
    this.ctx = {
      chainId: opts.chainId,
      selfIndex: opts.index,
      publicKey: keys.publicKey,
      secretKey: keys.secretKey,
      maxFrameBytes: this.o.maxFrameBytes,
      handshakeTimeoutMs: this.o.handshakeTimeoutMs,
      codec: this.codec,
      counters: this.counters,
      log: this.log,
      indexOfKey: (k) => this.keyIndex.get(k.toString('hex')),
      admit: (c, i, authenticated) => this.admit(c, i, authenticated),
      opened: (c) => this.opened(c),
      message: (c, m) => this.emit('message', c.peerIndex!, m),
      closed: (c, e) => this.closed(c, e),
      drained: (c) => this.flush(this.peers.get(c.peerIndex!)),
    };
    this.pending = new PendingSlots(this.conns, {
      perAddress: this.o.maxPendingPerAddress,
      global: this.o.maxPendingHandshakes,
      perClaimedPeer: PENDING_CLAIMS_PER_PEER,
    });
  }

  /** Bind the listener, dial every higher-index peer now and every lower-index one after `reverseDialDelayMs`. */
  async start(): Promise<void> {
    if (this.state !== 'new') throw new NetworkError('CLOSED', 'a transport can be started once');
    this.state = 'starting';
    const server = createServer({ noDelay: true }, (s) => this.accept(s));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.listenPort, this.listenHost, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (e) => this.log.error({ err: e }, 'peer listener error'));
    const addr = server.address();
    this.boundPort = typeof addr === 'object' && addr ? addr.port : this.listenPort;
    if (this.state !== 'starting') {
      server.close(); // close() ran while we were binding and found nothing to close yet
      return;
    }
    this.state = 'running';
    const every = Math.max(20, Math.min(this.o.pingIntervalMs, Math.floor(this.o.idleTimeoutMs / 4)));
    this.tickTimer = setInterval(() => this.tick(), every);
    this.tickTimer.unref();
    for (const p of this.peers.values()) {
      if (this.dialsFirst(p)) this.dial(p);
      else this.scheduleDial(p);
    }
    this.log.info({ host: this.listenHost, port: this.boundPort }, 'peer transport listening');
  }

  /** The bound listen port (useful with listenPort 0). */
  get port(): number {
    if (this.boundPort === undefined) throw new NetworkError('NOT_STARTED', 'transport not started');
    return this.boundPort;
  }

  get index(): number {
    return this.ctx.selfIndex;
  }

  /**
   * Largest msgpack encoding `send`/`broadcast` accept: `maxFrameBytes` minus the 16-byte AEAD tag
   * every sealed frame carries. Callers that build big answers (batches, sync) split to fit this.
   */
  get maxMessageBytes(): number {
    return this.o.maxFrameBytes - AEAD_TAG_BYTES;
  }

  /**
   * Queue `msg` for validator `to`; written at once if the link is up and not back-pressured.
   * Returns false if the message alone exceeds the queue byte bound (dropped, counted).
   * Throws NetworkError for an unknown/own index (UNKNOWN_PEER), a message whose encoding exceeds
   * `maxMessageBytes` (FRAME_TOO_LARGE), a value msgpack cannot encode (ENCODE_ERROR) or after
   * close() (CLOSED); nothing is queued then.
   */
  send(to: number, msg: unknown): boolean {
    const peer = this.peerFor(to);
    return this.enqueue(peer, this.encode(msg));
  }

  /**
   * Encodes once and queues the same bytes to every other member, or to those `only` selects (a
   * validator's consensus traffic goes to validators, not to followers); returns how many
   * accepted it. Throws like `send` (FRAME_TOO_LARGE, ENCODE_ERROR, CLOSED) before queuing to anyone.
   */
  broadcast(msg: unknown, only?: (index: number) => boolean): number {
    this.assertUsable();
    const f = this.encode(msg);
    let n = 0;
    for (const p of this.peers.values()) if ((!only || only(p.info.index)) && this.enqueue(p, f)) n++;
    return n;
  }

  onMessage(fn: (fromIndex: number, msg: unknown) => void): () => void {
    return this.subscribe('message', fn);
  }

  onPeerUp(fn: (index: number) => void): () => void {
    return this.subscribe('up', fn);
  }

  /** `reason` is the code that ended the connection (SHUTDOWN, REMOTE_CLOSE, PEER_CLOSED, IDLE_TIMEOUT, ...). */
  onPeerDown(fn: (index: number, reason: NetErrorCode) => void): () => void {
    return this.subscribe('down', fn);
  }

  isConnected(index: number): boolean {
    return this.peers.get(index)?.up ?? false;
  }

  /** Members with a link up, or those of them `only` selects. */
  connectedPeers(only?: (index: number) => boolean): number[] {
    return [...this.peers.values()].filter((p) => p.up && (!only || only(p.info.index))).map((p) => p.info.index);
  }

  stats(): TransportStats {
    const peers: PeerStats[] = [...this.peers.values()].map((p) => ({
      index: p.info.index,
      connected: p.up,
      queuedMessages: p.queue.length,
      queuedBytes: p.queue.bytes,
      drops: p.queue.dropped,
      droppedBytes: p.queue.droppedBytes,
      messagesOut: p.messagesOut,
      connects: p.connects,
      linkOutbound: p.link && p.up ? p.link.outbound : null,
    }));
    const sum = (k: 'drops' | 'droppedBytes' | 'messagesOut') => peers.reduce((s, p) => s + p[k], 0);
    return {
      ...this.counters,
      handshakeFailuresByCode: { ...this.counters.handshakeFailuresByCode },
      pendingHandshakes: this.pending.count(),
      messagesOut: sum('messagesOut'),
      drops: sum('drops'),
      droppedBytes: sum('droppedBytes'),
      peers,
    };
  }

  /** Releases the listener, every socket and every timer; queued messages are discarded. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    if (this.tickTimer) clearInterval(this.tickTimer);
    for (const p of this.peers.values()) {
      if (p.dialTimer) clearTimeout(p.dialTimer);
      p.dialTimer = undefined;
    }
    const serverClosed = new Promise<void>((resolve) => (this.server?.listening ? this.server.close(() => resolve()) : resolve()));
    const conns = [...this.conns];
    for (const c of conns) c.close(new NetworkError('SHUTDOWN', 'transport closing', c.peerIndex));
    await Promise.all([serverClosed, ...conns.map((c) => c.done)]);
    for (const p of this.peers.values()) p.queue.clear();
  }

  private accept(socket: Socket): void {
    if (this.state !== 'running') {
      socket.destroy();
      return;
    }
    // Make room first: the newcomer is never the one refused while an older stranger holds a slot.
    if (!this.pending.makeRoomForNewSocket(socket.remoteAddress ?? '?')) {
      const c = this.counters;
      c.handshakeFailures++;
      c.handshakeFailuresByCode.TOO_MANY_PENDING = (c.handshakeFailuresByCode.TOO_MANY_PENDING ?? 0) + 1;
      this.log.debug({ remote: socket.remoteAddress, code: 'TOO_MANY_PENDING' }, 'peer connection refused: every pending slot holds a claimed handshake');
      socket.destroy();
      return;
    }
    this.conns.add(new Connection(this.ctx, socket, false));
  }

  /** The lower index dials at once; the higher only after `reverseDialDelayMs` without a link. */
  private dialsFirst(p: Peer): boolean {
    return this.ctx.selfIndex < p.info.index;
  }

  /** Simultaneous-open rule: of two links to one peer, the one the lower index dialed stays. */
  private preferred(c: Connection): boolean {
    return c.outbound === this.ctx.selfIndex < c.peerIndex!;
  }

  private dial(p: Peer): void {
    p.dialTimer = undefined;
    if (this.state !== 'running' || p.link || p.dialing) return;
    const socket = connect({ host: p.info.host, port: p.info.port });
    const c = new Connection(this.ctx, socket, true, p.info.index);
    p.dialing = c;
    this.conns.add(c);
  }

  /** Exponential back-off with equal jitter: never zero, never above the cap, and peers restarted together spread out. */
  private scheduleDial(p: Peer): void {
    if (this.state !== 'running' || p.dialTimer || p.link || p.dialing) return;
    const ceiling = Math.min(this.o.reconnectMaxMs, this.o.reconnectBaseMs * 2 ** Math.min(p.attempts, 30));
    const backoff = p.attempts === 0 && !this.dialsFirst(p) ? 0 : ceiling / 2 + (Math.random() * ceiling) / 2;
    // The higher index waits for the lower one's dial first, so the usual case is a single dial per pair.
    const delay = backoff + (this.dialsFirst(p) ? 0 : this.o.reverseDialDelayMs);
    p.attempts++;
    p.dialTimer = setTimeout(() => this.dial(p), delay);
    p.dialTimer.unref();
  }

  private admit(c: Connection, index: number, authenticated: boolean): NetErrorCode | undefined {
    const p = this.peers.get(index);
    if (!p) return 'UNKNOWN_PEER';
    if (c.outbound && p.dialing !== c) return 'DUPLICATE';
    const cur = p.link;
    c.peerIndex ??= index;
    // Refused at HELLO already when the new connection could never replace the link that is up.
    if (cur && cur !== c && !cur.isClosed && !(this.preferred(c) && !this.preferred(cur))) return 'DUPLICATE';
    if (!authenticated) {
      // A HELLO is public: bound how many pending handshakes may claim one validator, oldest out.
      if (!c.outbound) this.pending.makeRoomForClaim(c, index);
      return undefined;
    }
    if (c.outbound) p.dialing = undefined;
    p.link = c;
    if (cur && cur !== c && !cur.isClosed) cur.close(new NetworkError('SUPERSEDED', 'replaced by the link the lower index dialed', index));
    return undefined;
  }

  private opened(c: Connection): void {
    const p = this.peers.get(c.peerIndex!)!;
    p.attempts = 0;
    if (p.up) {
      // A superseded link was swapped out under a peer that stayed up: no down/up for consumers.
      this.log.debug({ peer: p.info.index, outbound: c.outbound }, 'peer link replaced');
    } else {
      p.up = true;
      p.connects++;
      this.log.info({ peer: p.info.index, outbound: c.outbound }, 'peer up');
      this.emit('up', p.info.index);
    }
    this.flush(p);
  }

  private closed(c: Connection, err: NetworkError): void {
    this.conns.delete(c);
    const p = c.peerIndex === undefined ? undefined : this.peers.get(c.peerIndex);
    if (!p) return;
    if (p.dialing === c) p.dialing = undefined;
    else if (p.link === c) {
      p.link = undefined;
      if (p.up) {
        p.up = false;
        this.log.info({ peer: p.info.index, code: err.code }, 'peer down');
        this.emit('down', p.info.index, err.code);
      }
    } else return;
    this.scheduleDial(p);
  }

  private encode(msg: unknown): OutFrame {
    let body: Buffer;
    try {
      body = this.codec.pack(msg);
    } catch (e) {
      throw new NetworkError('ENCODE_ERROR', `message cannot be encoded: ${(e as Error).message}`);
    }
    if (body.length > this.maxMessageBytes) {
      throw new NetworkError(
        'FRAME_TOO_LARGE',
        `message of ${body.length} bytes exceeds maxMessageBytes ${this.maxMessageBytes} (maxFrameBytes ${this.o.maxFrameBytes} minus the AEAD tag)`,
        undefined,
        {
          length: body.length,
          limit: this.maxMessageBytes,
        },
      );
    }
    return { kind: FrameKind.DATA, body };
  }

  private enqueue(p: Peer, f: OutFrame): boolean {
    const ok = p.queue.push(f);
    this.flush(p);
    return ok;
  }

  private flush(p: Peer | undefined): void {
    const c = p?.link;
    if (!p || !c || !p.up) return;
    while (p.queue.length > 0 && c.writable) {
      c.writeData(p.queue.shift()!);
      p.messagesOut++;
    }
  }

  private tick(): void {
    const now = Date.now();
    for (const c of [...this.conns]) c.tick(now, this.o.pingIntervalMs, this.o.idleTimeoutMs);
  }

  private peerFor(index: number): Peer {
    this.assertUsable();
    const p = this.peers.get(index);
    if (!p) throw new NetworkError('UNKNOWN_PEER', `no validator ${index} to send to (own index is ${this.ctx.selfIndex})`, index);
    return p;
  }

  private assertUsable(): void {
    if (this.state === 'closed') throw new NetworkError('CLOSED', 'transport is closed');
  }

  private subscribe<K extends keyof PeerTransport['listeners']>(k: K, fn: PeerTransport['listeners'][K][number]): () => void {
    const list = this.listeners[k] as unknown[];
    list.push(fn);
    return () => {
      const i = list.indexOf(fn);
      if (i >= 0) list.splice(i, 1);
    };
  }

  /** A throwing handler is a bug in the caller; it must not tear down the link that delivered the message. */
  private emit(k: 'message', from: number, msg: unknown): void;
  private emit(k: 'up', index: number): void;
  private emit(k: 'down', index: number, code: NetErrorCode): void;
  private emit(k: keyof PeerTransport['listeners'], ...args: unknown[]): void {
    for (const fn of [...this.listeners[k]] as ((...a: unknown[]) => void)[]) {
      try {
        fn(...args);
      } catch (e) {
        this.log.error({ err: e, event: k }, 'peer transport listener threw');
      }
    }
  }
}
