import { Packr } from 'msgpackr';
import { NetworkError } from './errors.js';

/**
 * Wire frame: u32 big-endian length L, then L bytes = one kind byte + body. L counts the kind byte
 * so a zero-length frame is impossible by construction and rejected as a protocol error.
 */
export const FrameKind = {
  HELLO: 0x01,
  AUTH: 0x02,
  CLOSE: 0x03,
  PING: 0x04,
  PONG: 0x05,
  DATA: 0x10,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

export const FRAME_HEADER_BYTES = 5;
/** Before a peer is authenticated nothing it may send is larger than this: no big allocations for strangers. */
export const HANDSHAKE_MAX_BODY = 1024;
export const DEFAULT_MAX_FRAME_BYTES = 64 * 1024 * 1024;
/** Hard ceiling: the length prefix is a u32 and a Buffer must stay well below 4 GiB. */
export const MAX_MAX_FRAME_BYTES = 1024 * 1024 * 1024;

/**
 * Standard msgpack maps, no msgpackr records: records need structures shared between both ends,
 * which a stream that reconnects (fresh encoder, fresh decoder) cannot guarantee.
 */
export function createCodec(): Packr {
  return new Packr({ useRecords: false });
}

export function frameHeader(kind: FrameKind, bodyLength: number): Buffer {
  const h = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
  h.writeUInt32BE(bodyLength + 1, 0);
  h[4] = kind;
  return h;
}

export interface Frame {
  kind: number;
  body: Buffer;
}

/**
 * Incremental frame parser. Chunks are kept in a list and joined once per frame, so a 20 MB frame
 * arriving in 64 KiB pieces costs one copy, not a quadratic series of concatenations; memory only
 * grows with bytes that actually arrived, never with what a length prefix promises.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** Largest body accepted; read per frame so it can be raised after authentication mid-chunk. */
  maxBody: number;

  constructor(maxBody: number) {
    this.maxBody = maxBody;
  }

  get bufferedBytes(): number {
    return this.buffered;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /** Next complete frame, or undefined if more bytes are needed. Throws NetworkError on a bad prefix. */
  next(): Frame | undefined {
    if (this.buffered < 4) return undefined;
    const len = this.peekLength();
    if (len === 0) throw new NetworkError('PROTOCOL_ERROR', 'zero-length frame');
    if (len - 1 > this.maxBody) {
      throw new NetworkError('FRAME_TOO_LARGE', `frame of ${len - 1} bytes exceeds limit ${this.maxBody}`, undefined, {
        length: len - 1,
        limit: this.maxBody,
      });
    }
    if (this.buffered < 4 + len) return undefined;
    const whole = this.take(4 + len);
    return { kind: whole[4]!, body: whole.subarray(5) };
  }

  private peekLength(): number {
    const first = this.chunks[0]!;
    if (first.length >= 4) return first.readUInt32BE(0);
    const head = Buffer.allocUnsafe(4);
    let off = 0;
    for (const c of this.chunks) {
      const n = Math.min(4 - off, c.length);
      c.copy(head, off, 0, n);
      off += n;
      if (off === 4) break;
    }
    return head.readUInt32BE(0);
  }

  private take(n: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= n) {
      // Common case for small frames: no copy, just a view.
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks[0]!;
      const k = Math.min(n - off, c.length);
      c.copy(out, off, 0, k);
      off += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.buffered -= n;
    return out;
  }

  clear(): void {
    this.chunks = [];
    this.buffered = 0;
  }
}
