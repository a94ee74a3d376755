import type { HttpResponse } from './uws.js';
import { ApiError } from './errors.js';
import { overloaded, type BodySlot } from './limits.js';

/** Per-request state shared by the dispatcher, the body reader and the handlers. */
export interface RequestState {
  aborted: boolean;
  /** Set once a response has been written; nothing may touch `res` afterwards. */
  done: boolean;
}

export interface BodyLimits {
  maxBytes: number;
  /** Content-Length, when the client sent one. */
  declared: number | undefined;
  /** The body's place in the global and per-client caps; released however the read ends. */
  slot: BodySlot;
  /** The whole body must arrive within this (a client that trickles bytes cannot hold a slot for ever). */
  timeoutMs: number;
}

/**
 * Reads a request body. MUST be called synchronously inside the uWS handler (before any await):
 * it registers `onData` at once. The caller registers `onAborted`, flips `state.aborted`, and calls
 * the returned `abort` so the pending promise settles instead of leaking.
 * Each chunk is copied (uWS neuters the ArrayBuffer after the callback). The size limit is enforced
 * while streaming: the first chunk that crosses it rejects with 413 without buffering the rest. The
 * same goes for the buffered-bytes budget (503) and the deadline (408); the caller answers those
 * and closes the connection, so the rest of the body is never read.
 */
export function readBody(res: HttpResponse, limits: BodyLimits): { body: Promise<Buffer>; abort: () => void } {
  const { maxBytes, declared, slot } = limits;
  let settle: { resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  const body = new Promise<Buffer>((resolve, reject) => {
    settle = { resolve, reject };
  });
  // Avoid an unhandled rejection if the handler never awaits (aborted before use).
  body.catch(() => undefined);
  if (declared !== undefined && declared > maxBytes) {
    slot.release();
    settle!.reject(tooLarge(maxBytes));
    return { body, abort: () => undefined };
  }
  // With a declared length the body is copied chunk by chunk into one buffer of its own (no 32 MiB
  // concat in one go on the main thread, and the result can be transferred to a worker whole).
  let into = declared !== undefined && declared > 0 ? Buffer.allocUnsafeSlow(declared) : undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  const fail = (e: ApiError): void => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    chunks.length = 0;
    slot.release();
    settle!.reject(e);
  };
  const timer = setTimeout(
    () =>
      fail(
        new ApiError('REQUEST_TIMEOUT', `the request body did not arrive within ${limits.timeoutMs} ms (api.bodyTimeoutMs)`, {
          details: { limit: 'api.bodyTimeoutMs', received: size, declared },
        }),
      ),
    limits.timeoutMs,
  );
  res.onData((chunk, isLast) => {
    if (finished) return;
    size += chunk.byteLength;
    if (size > maxBytes) return fail(tooLarge(maxBytes));
    if (!slot.add(chunk.byteLength)) return fail(overloaded('api.maxBufferedBodyBytes', 'too many request body bytes are buffered (api.maxBufferedBodyBytes); retry later'));
    if (into && size > into.length) {
      // More than declared (uWS's parser should not let that happen): fall back to chunks.
      chunks.push(into.subarray(0, size - chunk.byteLength));
      into = undefined;
    }
    if (into) into.set(new Uint8Array(chunk), size - chunk.byteLength);
    else chunks.push(Buffer.from(chunk.slice(0)));
    if (isLast) {
      finished = true;
      clearTimeout(timer);
      slot.release();
      if (into) settle!.resolve(size === into.length ? into : into.subarray(0, size));
      else settle!.resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
      chunks.length = 0;
    }
  });
  return {
    body,
    abort: () => fail(new ApiError('BAD_REQUEST', 'request aborted by the client')),
  };
}

export function tooLarge(maxBytes: number): ApiError {
  return new ApiError('PAYLOAD_TOO_LARGE', `request body exceeds the limit of ${maxBytes} bytes (api.maxBodyBytes)`, {
    details: { limit: maxBytes },
  });
}
