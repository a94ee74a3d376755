import type { HttpResponse } from './uws.js';
import { ApiError } from './errors.js';

/** Per-request state shared by the dispatcher, the body reader and the handlers. */
export interface RequestState {
  aborted: boolean;
  /** Set once a response has been written; nothing may touch `res` afterwards. */
  done: boolean;
}

/**
 * Reads a request body. MUST be called synchronously inside the uWS handler (before any await):
 * it registers `onData` at once. The caller registers `onAborted`, flips `state.aborted`, and calls
 * the returned `abort` so the pending promise settles instead of leaking.
 * Each chunk is copied (uWS neuters the ArrayBuffer after the callback). The size limit is enforced
 * while streaming: the first chunk that crosses it rejects with 413 without buffering the rest.
 */
export function readBody(res: HttpResponse, maxBytes: number, declaredLength: number | undefined): { body: Promise<Buffer>; abort: () => void } {
  let settle: { resolve: (b: Buffer) => void; reject: (e: Error) => void } | undefined;
  const body = new Promise<Buffer>((resolve, reject) => {
    settle = { resolve, reject };
  });
  // Avoid an unhandled rejection if the handler never awaits (aborted before use).
  body.catch(() => undefined);
  if (declaredLength !== undefined && declaredLength > maxBytes) {
    settle!.reject(tooLarge(maxBytes));
    return { body, abort: () => undefined };
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  res.onData((chunk, isLast) => {
    if (finished) return;
    size += chunk.byteLength;
    if (size > maxBytes) {
      finished = true;
      chunks.length = 0;
      settle!.reject(tooLarge(maxBytes));
      return;
    }
    chunks.push(Buffer.from(chunk.slice(0)));
    if (isLast) {
      finished = true;
      settle!.resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
      chunks.length = 0;
    }
  });
  return {
    body,
    abort: () => {
      if (finished) return;
      finished = true;
      chunks.length = 0;
      settle!.reject(new ApiError('BAD_REQUEST', 'request aborted by the client'));
    },
  };
}

function tooLarge(maxBytes: number): ApiError {
  return new ApiError('PAYLOAD_TOO_LARGE', `request body exceeds the limit of ${maxBytes} bytes (api.maxBodyBytes)`, {
    details: { limit: maxBytes },
  });
}
