import { addExtension } from 'msgpackr';
import { pino } from 'pino';
import { PeerTransport, type PeerInfo } from '../network/index.js';
import { decodeMessage, Ed25519ConsensusCrypto, type Block, type QuorumCert } from '../consensus/index.js';
import type { KeyPair } from '../crypto/keys.js';

/**
 * Bytes written into a msgpack stream as they are: the attacker's way to send a message body no
 * honest encoder would produce (a header claiming 2^31 array entries, a truncated value, …).
 * Registered once, process-wide; only instances of this class are affected.
 */
export class RawMsgpack {
  constructor(readonly bytes: Uint8Array) {}
}
addExtension({
  Class: RawMsgpack,
  type: 0x65,
  pack(v: RawMsgpack, alloc: (n: number) => { target: Uint8Array; position: number }) {
    const { target, position } = alloc(v.bytes.length);
    target.set(v.bytes, position);
  },
} as unknown as Parameters<typeof addExtension>[0]);

export interface ByzantineOptions {
  /** The validator index whose key this peer holds. */
  index: number;
  key: KeyPair;
  chainId: number;
  /** The validator set as this peer dials it (through the fault proxies), own entry = where it listens. */
  validators: PeerInfo[];
}

/** What the attacker learns by listening: the honest validators' latest proposal, batches and boot ids. */
export interface Observed {
  /** Latest proposal seen (highest round). */
  proposal: Block | undefined;
  /** Highest QC seen in a proposal. */
  highQc: QuorumCert | undefined;
  /** Digests of recently proposed batches (newest last, bounded). */
  digests: Uint8Array[];
  /** Boot id and highest sequence number of each honest validator's batch stream. */
  boots: Map<number, { boot: number; seq: number }>;
  messagesIn: number;
}

/**
 * A Byzantine validator: it holds a real validator key and speaks the real wire protocol through
 * the project's own PeerTransport (so the handshake and the channel protection are the real ones),
 * and sends whatever an attack tells it to. It never votes or proposes honestly.
 */
export class ByzantinePeer {
  readonly transport: PeerTransport;
  readonly crypto: Ed25519ConsensusCrypto;
  readonly observed: Observed = { proposal: undefined, highQc: undefined, digests: [], boots: new Map(), messagesIn: 0 };
  downs = 0;

  constructor(readonly o: ByzantineOptions) {
    this.transport = new PeerTransport({
      index: o.index,
      seed: o.key.seed,
      validators: o.validators,
      chainId: o.chainId,
      // Room to send frames above the honest limit (the receivers must refuse them by the prefix).
      maxFrameBytes: 1024 * 1024 * 1024,
      maxQueueBytes: 2 * 1024 * 1024 * 1024,
      maxQueueMessages: 1_000_000,
      reconnectBaseMs: 50,
      reconnectMaxMs: 500,
      logger: pino({ level: 'silent' }),
    });
    this.crypto = new Ed25519ConsensusCrypto(
      o.key.seed,
      o.validators.map((v) => v.publicKey),
    );
    this.transport.onMessage((from, msg) => this.observe(from, msg));
    this.transport.onPeerDown(() => this.downs++);
  }

  get index(): number {
    return this.o.index;
  }

  get honest(): number[] {
    return this.o.validators.map((v) => v.index).filter((i) => i !== this.o.index);
  }

  async start(): Promise<void> {
    await this.transport.start();
  }

  /** Resolves once every honest validator is connected (a malformed message may have cost the link). */
  async connected(timeoutMs = 15_000): Promise<boolean> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (this.honest.every((i) => this.transport.isConnected(i))) return true;
      await new Promise((r) => setTimeout(r, 25));
    }
    return false;
  }

  /** Sends to every connected honest validator; returns how many took it. */
  broadcast(msg: unknown): number {
    let n = 0;
    for (const i of this.honest) if (this.transport.isConnected(i) && this.transport.send(i, msg)) n++;
    return n;
  }

  /** A frame whose msgpack body is exactly these bytes. */
  broadcastRaw(bytes: Uint8Array): number {
    return this.broadcast(new RawMsgpack(bytes));
  }

  /** Resolves when the outbound queues are empty (the attack is on the wire), or after timeoutMs. */
  async flushed(timeoutMs = 20_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      const s = this.transport.stats();
      if (s.peers.every((p) => p.queuedMessages === 0 || !p.connected)) return;
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  async close(): Promise<void> {
    await this.transport.close();
  }

  private observe(from: number, msg: unknown): void {
    this.observed.messagesIn++;
    if (typeof msg !== 'object' || msg === null) return;
    const m = msg as { k?: unknown; m?: unknown; i?: unknown; n?: unknown };
    if (m.k === 'b' && typeof m.i === 'number' && typeof m.n === 'number') {
      this.observed.boots.set(from, { boot: m.i, seq: m.n });
      return;
    }
    if (m.k !== 'c' || !(m.m instanceof Uint8Array)) return;
    try {
      const c = decodeMessage(m.m);
      if (c.type !== 'proposal') return;
      const b = c.proposal.block;
      if (!this.observed.proposal || b.round > this.observed.proposal.round) this.observed.proposal = b;
      if (!this.observed.highQc || b.qc.round > this.observed.highQc.round) this.observed.highQc = b.qc;
      for (const d of b.payload) this.observed.digests.push(d);
      if (this.observed.digests.length > 512) this.observed.digests.splice(0, this.observed.digests.length - 512);
    } catch {
      // not ours to judge
    }
  }
}
