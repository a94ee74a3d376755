import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { C1, type Packr } from 'msgpackr';
import { NetworkError, isNetErrorCode, type NetErrorCode } from './errors.js';
import { FrameDecoder, FrameKind, HANDSHAKE_MAX_BODY, frameHeader, type Frame } from './frame.js';
import { KxKeyPair, SealedChannel } from './channel.js';
import { AUTH_BYTES, PROTOCOL_VERSION, decodeHello, encodeHello, newChallenge, signTranscript, transcript, verifyTranscript, type Hello } from './handshake.js';
import type { OutFrame } from './send-queue.js';

/** Counters shared by all connections of one transport. */
export interface MutableCounters {
  bytesIn: number;
  bytesOut: number;
  framesIn: number;
  framesOut: number;
  messagesIn: number;
  handshakeFailures: number;
  handshakeFailuresByCode: Partial<Record<NetErrorCode, number>>;
  connectionErrors: number;
  dialFailures: number;
}

/** What a connection needs from its transport; keeps the transport's global rules (duplicates, direction) out of here. */
export interface ConnectionContext {
  readonly chainId: number;
  readonly selfIndex: number;
  readonly publicKey: Buffer;
  readonly secretKey: Buffer;
  readonly maxFrameBytes: number;
  readonly handshakeTimeoutMs: number;
  readonly codec: Packr;
  readonly counters: MutableCounters;
  readonly log: Logger;
  /** Validator index owning this 32-byte key, if any. */
  indexOfKey(publicKey: Buffer): number | undefined;
  /**
   * Connection policy (direction, duplicates). Asked after HELLO for an early refusal and again once
   * AUTH verified; only the second call may bind the peer, so a stranger replaying a validator's
   * public HELLO cannot hold that validator's slot while it stalls.
   */
  admit(conn: Connection, index: number, authenticated: boolean): NetErrorCode | undefined;
  opened(conn: Connection): void;
  message(conn: Connection, msg: unknown): void;
  closed(conn: Connection, error: NetworkError): void;
  drained(conn: Connection): void;
}

type State = 'connecting' | 'handshake' | 'open' | 'closed';

/** Codes that are expected churn rather than evidence of a misbehaving or misconfigured peer. */
const QUIET: ReadonlySet<NetErrorCode> = new Set(['SHUTDOWN', 'DIAL_FAILED']);
/**
 * Counted like any refusal but logged at debug: a stranger flooding sockets produces these by the
 * thousand, and a warn line per socket would turn the flood into a disk-filling attack.
 */
const FLOOD: ReadonlySet<NetErrorCode> = new Set(['TOO_MANY_PENDING', 'SUPERSEDED']);
/** After a graceful end(), how long the remote gets to send its FIN before the socket is destroyed. */
const LINGER_MS = 1000;

let connectionSerial = 0;

export class Connection {
  private state: State;
  private readonly decoder = new FrameDecoder(HANDSHAKE_MAX_BODY);
  private readonly challenge = newChallenge();
  private readonly kx = new KxKeyPair();
  private remoteHello: Hello | undefined;
  /** Session keys, from the moment both HELLOs are known. */
  private channel: SealedChannel | undefined;
  /** Every frame we write after our AUTH is sealed. */
  private sealOut = false;
  /** Every frame we read after the remote's verified AUTH must be sealed. */
  private sealIn = false;
  private handshakeTimer: NodeJS.Timeout | undefined;
  private lingerTimer: NodeJS.Timeout | undefined;
  private lastPingAt = 0;
  /** Validator index: the dialed one for outbound connections, the claimed one after HELLO for inbound. */
  peerIndex: number | undefined;
  lastRecvAt = Date.now();
  /** Creation order (a counter, not a clock: no ties): the eviction order of pending handshakes. */
  readonly serial = ++connectionSerial;
  /** Wall clock at creation, for the grace period of fresh sockets (pending-slots.ts). */
  readonly createdAt = Date.now();
  /** Captured at creation: Node forgets the address once the socket is destroyed. */
  readonly remoteAddress: string;
  error: NetworkError | undefined;
  readonly done: Promise<void>;

  constructor(
    private readonly ctx: ConnectionContext,
    readonly socket: Socket,
    readonly outbound: boolean,
    expectedIndex?: number,
  ) {
    this.peerIndex = expectedIndex;
    this.remoteAddress = socket.remoteAddress ?? '?';
    this.state = outbound ? 'connecting' : 'handshake';
    this.done = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.setNoDelay(true);
    socket.on('data', (c: Buffer) => this.onData(c));
    socket.on('drain', () => {
      if (this.state === 'open') ctx.drained(this);
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      const code: NetErrorCode = this.state === 'connecting' ? 'DIAL_FAILED' : 'SOCKET_ERROR';
      this.fail(new NetworkError(code, e.message, this.peerIndex, { errno: e.code }), false);
    });
    socket.on('end', () => this.fail(new NetworkError('PEER_CLOSED', 'remote closed the connection', this.peerIndex), false));
    socket.on('close', () => {
      if (this.lingerTimer) clearTimeout(this.lingerTimer);
      this.fail(new NetworkError('PEER_CLOSED', 'socket closed', this.peerIndex), false);
    });
    // The timer covers TCP connect as well, so a black-holed SYN is bounded by the same limit.
    this.handshakeTimer = setTimeout(
      () => this.fail(new NetworkError('HANDSHAKE_TIMEOUT', `no handshake within ${ctx.handshakeTimeoutMs} ms`, this.peerIndex)),
      ctx.handshakeTimeoutMs,
    );
    this.handshakeTimer.unref();
    if (outbound) {
      socket.once('connect', () => {
        if (this.state !== 'connecting') return;
        this.state = 'handshake';
        socket.setKeepAlive(true, 10_000);
        this.sendHello();
      });
    } else {
      socket.setKeepAlive(true, 10_000);
      this.sendHello();
    }
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  get isClosed(): boolean {
    return this.state === 'closed';
  }

  /** An inbound socket still in its handshake: it holds one of the listener's pending slots. */
  get isPendingInbound(): boolean {
    return !this.outbound && this.state === 'handshake';
  }

  /** True once the remote sent a HELLO that passed every check (key in the set, index, chain). */
  get claimed(): boolean {
    return this.remoteHello !== undefined;
  }

  /** False once the socket's buffer passed its high-water mark: stop handing it frames until 'drain'. */
  get writable(): boolean {
    return this.state === 'open' && !this.socket.writableNeedDrain;
  }

  writeData(f: OutFrame): boolean {
    this.writeControl(f.kind, f.body);
    return !this.socket.writableNeedDrain;
  }

  /** Keep-alive: both ends ping, so each hears from the other even while its own PINGs wait behind a big frame. */
  tick(now: number, pingIntervalMs: number, idleTimeoutMs: number): void {
    if (this.state !== 'open') return;
    if (now - this.lastRecvAt > idleTimeoutMs) {
      this.fail(new NetworkError('IDLE_TIMEOUT', `nothing received for ${now - this.lastRecvAt} ms`, this.peerIndex));
      return;
    }
    if (now - this.lastPingAt >= pingIntervalMs) {
      this.lastPingAt = now;
      this.writeControl(FrameKind.PING, Buffer.alloc(0));
    }
  }

  /** Close deliberately (shutdown, refusal, eviction). Idempotent. `notifyRemote` false: no CLOSE frame, no linger. */
  close(error: NetworkError, notifyRemote = true): void {
    this.fail(error, notifyRemote);
  }

  private sendHello(): void {
    const body = encodeHello({
      version: PROTOCOL_VERSION,
      chainId: this.ctx.chainId,
      index: this.ctx.selfIndex,
      publicKey: this.ctx.publicKey,
      challenge: this.challenge,
      kxPublicKey: this.kx.publicKey,
    });
    this.writeControl(FrameKind.HELLO, body);
  }

  /** The one place bytes are written, so sealed frames leave in counter order. */
  private writeControl(kind: FrameKind, body: Buffer): void {
    if (this.socket.destroyed || !this.socket.writable) return;
    const wire = this.sealOut ? this.channel!.seal(kind, body) : Buffer.concat([frameHeader(kind, body.length), body]);
    this.socket.write(wire);
    this.ctx.counters.bytesOut += wire.length;
    this.ctx.counters.framesOut++;
  }

  private onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.ctx.counters.bytesIn += chunk.length;
    this.lastRecvAt = Date.now();
    this.decoder.push(chunk);
    try {
      for (;;) {
        // A handler may have closed us (or the whole transport) while we were still parsing.
        if (this.isClosed) return;
        const f = this.decoder.next();
        if (!f) return;
        this.ctx.counters.framesIn++;
        // Authenticate before looking at anything in it, the kind included.
        this.onFrame(this.sealIn ? { kind: f.kind, body: this.channel!.open(f.kind, f.body) } : f);
      }
    } catch (e) {
      const err = e instanceof NetworkError ? e : new NetworkError('PROTOCOL_ERROR', String(e), this.peerIndex);
      this.fail(new NetworkError(err.code, err.message, this.peerIndex, err.details));
    }
  }

  private onFrame(f: Frame): void {
    if (f.kind === FrameKind.CLOSE) {
      const reason = f.body.toString('utf8', 0, Math.min(f.body.length, 64));
      const remote = isNetErrorCode(reason) ? reason : 'UNKNOWN';
      const code: NetErrorCode = this.state === 'open' ? 'REMOTE_CLOSE' : 'REJECTED_BY_PEER';
      this.fail(new NetworkError(code, `remote closed: ${remote}`, this.peerIndex, { remoteCode: remote }), false);
      return;
    }
    if (this.state === 'open') return this.onOpenFrame(f);
    if (f.kind === FrameKind.HELLO && !this.remoteHello) return this.onHello(decodeHello(f.body));
    if (f.kind === FrameKind.AUTH && this.remoteHello) return this.onAuth(f.body);
    throw new NetworkError('PROTOCOL_ERROR', `unexpected frame kind ${f.kind} during handshake`);
  }

  private onHello(h: Hello): void {
    const refuse = (code: NetErrorCode, msg: string) => {
      throw new NetworkError(code, msg, h.index, { claimedIndex: h.index });
    };
    if (h.version !== PROTOCOL_VERSION) refuse('PROTOCOL_VERSION', `protocol version ${h.version}, expected ${PROTOCOL_VERSION}`);
    if (h.chainId !== this.ctx.chainId) refuse('WRONG_CHAIN', `chain id ${h.chainId}, expected ${this.ctx.chainId}`);
    const owner = this.ctx.indexOfKey(h.publicKey);
    if (owner === undefined) refuse('UNKNOWN_KEY', `key ${h.publicKey.toString('hex')} is not in the validator set`);
    if (owner !== h.index) refuse('KEY_MISMATCH', `claimed index ${h.index} but the key belongs to index ${owner}`);
    if (h.index === this.ctx.selfIndex) refuse('UNKNOWN_PEER', 'remote claims our own index (connected to ourselves?)');
    if (this.outbound && h.index !== this.peerIndex) refuse('UNEXPECTED_PEER', `dialed ${this.peerIndex}, reached ${h.index}`);
    const denied = this.ctx.admit(this, h.index, false);
    if (denied) refuse(denied, `refused by connection policy: ${denied}`);
    const keys = this.kx.deriveSessionKeys(this.ctx.selfIndex < h.index, h.kxPublicKey);
    this.channel = new SealedChannel(keys.tx, keys.rx);
    this.remoteHello = h;
    this.peerIndex = h.index;
    const t = transcript({
      chainId: this.ctx.chainId,
      version: PROTOCOL_VERSION,
      verifierChallenge: h.challenge,
      signerChallenge: this.challenge,
      signerIndex: this.ctx.selfIndex,
      verifierIndex: h.index,
      verifierKx: h.kxPublicKey,
      signerKx: this.kx.publicKey,
    });
    this.writeControl(FrameKind.AUTH, signTranscript(t, this.ctx.secretKey));
    this.sealOut = true;
  }

  private onAuth(sig: Buffer): void {
    const h = this.remoteHello!;
    if (sig.length !== AUTH_BYTES) throw new NetworkError('PROTOCOL_ERROR', `AUTH must be ${AUTH_BYTES} bytes`);
    const t = transcript({
      chainId: this.ctx.chainId,
      version: PROTOCOL_VERSION,
      verifierChallenge: this.challenge,
      signerChallenge: h.challenge,
      signerIndex: h.index,
      verifierIndex: this.ctx.selfIndex,
      verifierKx: this.kx.publicKey,
      signerKx: h.kxPublicKey,
    });
    // The key checked is the configured one for the index (onHello made sure the HELLO key equals it).
    if (!verifyTranscript(sig, t, h.publicKey)) throw new NetworkError('BAD_SIGNATURE', 'handshake signature does not verify');
    // The remote seals everything after its AUTH; from here a plaintext frame is an injection.
    this.sealIn = true;
    const denied = this.ctx.admit(this, h.index, true);
    if (denied) throw new NetworkError(denied, `refused by connection policy: ${denied}`, h.index);
    this.state = 'open';
    this.decoder.maxBody = this.ctx.maxFrameBytes;
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    this.ctx.opened(this);
  }

  private onOpenFrame(f: Frame): void {
    switch (f.kind) {
      case FrameKind.DATA: {
        let msg: unknown;
        try {
          msg = this.ctx.codec.unpack(f.body);
        } catch (e) {
          throw new NetworkError('DECODE_ERROR', `undecodable DATA frame: ${(e as Error).message}`);
        }
        // msgpackr turns the reserved byte 0xc1 into a sentinel instead of throwing.
        if (msg === C1) throw new NetworkError('DECODE_ERROR', 'DATA frame is the reserved msgpack byte 0xc1');
        this.ctx.counters.messagesIn++;
        this.ctx.message(this, msg);
        return;
      }
      case FrameKind.PING:
        this.writeControl(FrameKind.PONG, Buffer.alloc(0));
        return;
      case FrameKind.PONG:
        return;
      default:
        throw new NetworkError('PROTOCOL_ERROR', `unexpected frame kind ${f.kind} on an open connection`);
    }
  }

  /**
   * Single exit path. `notifyRemote` sends a CLOSE frame with the code before ending, so the other
   * side can log why instead of seeing a bare hang-up; it is skipped when the remote hung up first.
   */
  private fail(err: NetworkError, notifyRemote = true): void {
    if (this.state === 'closed') return;
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    this.error = err;
    if (this.handshakeTimer) clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    this.decoder.clear();
    this.kx.wipe();
    const c = this.ctx.counters;
    if (!wasOpen && !QUIET.has(err.code)) {
      c.handshakeFailures++;
      c.handshakeFailuresByCode[err.code] = (c.handshakeFailuresByCode[err.code] ?? 0) + 1;
    } else if (wasOpen && err.code !== 'SHUTDOWN' && err.code !== 'REMOTE_CLOSE') {
      c.connectionErrors++;
    }
    if (err.code === 'DIAL_FAILED') c.dialFailures++;
    const fields = { peer: this.peerIndex, code: err.code, outbound: this.outbound, remote: this.remote(), ...err.details };
    if (
      QUIET.has(err.code) ||
      FLOOD.has(err.code) ||
      (!wasOpen && !this.claimed && err.code === 'HANDSHAKE_TIMEOUT' && !this.outbound) ||
      (err.code === 'REMOTE_CLOSE' && err.details?.remoteCode === 'SHUTDOWN')
    ) {
      this.ctx.log.debug(fields, `peer connection closed: ${err.message}`);
    } else {
      this.ctx.log.warn(fields, `peer connection ${wasOpen ? 'closed' : 'refused'}: ${err.message}`);
    }
    if (notifyRemote && !this.socket.destroyed && this.socket.writable && !this.socket.connecting) {
      this.writeControl(FrameKind.CLOSE, Buffer.from(err.code, 'utf8'));
      this.socket.end();
      this.lingerTimer = setTimeout(() => this.socket.destroy(), LINGER_MS);
      this.lingerTimer.unref();
    } else {
      this.socket.destroy();
    }
    this.ctx.closed(this, err);
  }

  private remote(): string {
    return `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? '?'}`;
  }
}
