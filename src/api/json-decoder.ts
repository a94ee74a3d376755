import { Piscina } from 'piscina';
import { compiledPath } from '../runtime/module-path.js';
import type { ErrorCode } from '../errors.js';
import { ApiError } from './errors.js';
import { jsonBodyToTxs } from './tx-json.js';
import type { JsonTask, JsonTaskResult } from './json-worker.js';

/**
 * Below this a JSON body is converted inline: its parse takes well under a millisecond, less than a
 * worker round trip. Above it, parsing on the main thread would stall the consensus loop that shares
 * it (a 32 MiB body of ~87,000 transfers held the thread for ~1.5 s).
 */
export const INLINE_JSON_BYTES = 64 * 1024;

/**
 * JSON submissions → binary transactions. Large bodies go to one worker thread of their own, not to
 * the node's verify pool: consensus must not wait behind a JSON parse there either. One thread also
 * bounds how much CPU JSON can take from verification on a small machine; queued bodies are bounded
 * by api.maxConcurrentBodies.
 */
export class JsonDecoder {
  private pool: Piscina<JsonTask, JsonTaskResult> | undefined;

  constructor(private readonly maxTxs: number) {}

  async decode(body: Buffer): Promise<Buffer> {
    if (body.length < INLINE_JSON_BYTES) return jsonBodyToTxs(body, this.maxTxs);
    // Transfer the bytes; a view into a larger (shared-pool) buffer is copied first.
    const own = body.byteOffset === 0 && body.buffer.byteLength === body.length ? new Uint8Array(body.buffer) : new Uint8Array(body);
    const r = await this.workers().run({ body: own, maxTxs: this.maxTxs }, { transferList: [own.buffer as ArrayBuffer] });
    if (r instanceof Uint8Array) return Buffer.from(r.buffer, r.byteOffset, r.byteLength);
    throw new ApiError(r.code as ErrorCode, r.message, { details: r.details });
  }

  async close(): Promise<void> {
    const p = this.pool;
    this.pool = undefined;
    await p?.destroy();
  }

  private workers(): Piscina<JsonTask, JsonTaskResult> {
    return (this.pool ??= new Piscina<JsonTask, JsonTaskResult>({
      filename: compiledPath('./json-worker.js', import.meta.url),
      minThreads: 0,
      maxThreads: 1,
      concurrentTasksPerWorker: 1,
      // Kept warm between submissions; a worker costs ~30 ms to start.
      idleTimeout: 60_000,
    }));
  }
}
