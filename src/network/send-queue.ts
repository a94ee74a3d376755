import { FRAME_HEADER_BYTES, type FrameKind } from './frame.js';

/**
 * An encoded frame waiting for a writable socket, still in plaintext: it is sealed when written, so
 * the nonce counter follows the socket's write order and frames dropped here cost no encryption.
 * `body` may be shared by many peers' queues (broadcast).
 */
export interface OutFrame {
  kind: FrameKind;
  body: Buffer;
}

/** Bytes a frame accounts for in the queue bounds: header and plaintext body (the 16-byte tag is added on write). */
function size(f: OutFrame): number {
  return FRAME_HEADER_BYTES + f.body.length;
}

/**
 * Per-peer FIFO bounded in both message count and bytes. When full it drops the OLDEST frames:
 * consensus traffic ages badly (a vote or proposal for a past round is useless once the round moved
 * on, and the synchronizer refetches what matters), so the newest messages are the ones worth keeping.
 */
export class SendQueue {
  private items: (OutFrame | undefined)[] = [];
  private head = 0;
  private bytesQueued = 0;
  dropped = 0;
  droppedBytes = 0;

  constructor(
    readonly maxMessages: number,
    readonly maxBytes: number,
  ) {}

  get length(): number {
    return this.items.length - this.head;
  }

  get bytes(): number {
    return this.bytesQueued;
  }

  /** Returns false (and counts a drop) only when the frame alone exceeds the byte bound. */
  push(f: OutFrame): boolean {
    const n = size(f);
    if (n > this.maxBytes) {
      this.dropped++;
      this.droppedBytes += n;
      return false;
    }
    while (this.length > 0 && (this.length + 1 > this.maxMessages || this.bytesQueued + n > this.maxBytes)) {
      const old = this.shift()!;
      this.dropped++;
      this.droppedBytes += size(old);
    }
    this.items.push(f);
    this.bytesQueued += n;
    return true;
  }

  peek(): OutFrame | undefined {
    return this.items[this.head];
  }

  shift(): OutFrame | undefined {
    if (this.head >= this.items.length) return undefined;
    const f = this.items[this.head]!;
    // Release the reference now so a 16 MB body can be collected before the array is compacted.
    this.items[this.head] = undefined;
    this.head++;
    this.bytesQueued -= size(f);
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return f;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
    this.bytesQueued = 0;
  }
}
