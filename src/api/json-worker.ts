import { Piscina } from 'piscina';
import { HotledgerError } from '../errors.js';
import { jsonBodyToTxs } from './tx-json.js';

/** A JSON submission body to convert, transferred (not copied) to the worker. */
export interface JsonTask {
  body: Uint8Array;
  maxTxs: number;
}

/** The binary transactions (transferred back: Piscina.move takes a top-level buffer only), or the client's 400 as plain data. */
export type JsonTaskResult = Uint8Array | { code: string; message: string; details: Record<string, unknown> | undefined };

/** Worker entry: JSON.parse and conversion of a large submission, off the thread that runs consensus. */
export default function convertJson(task: JsonTask): JsonTaskResult {
  try {
    const out = jsonBodyToTxs(Buffer.from(task.body.buffer, task.body.byteOffset, task.body.byteLength), task.maxTxs);
    // Buffer.alloc owns its ArrayBuffer (never the shared pool), so it can be moved whole.
    return Piscina.move(new Uint8Array(out.buffer, out.byteOffset, out.byteLength)) as Uint8Array;
  } catch (e) {
    if (e instanceof HotledgerError) return { code: e.code, message: e.message, details: e.details };
    return { code: 'BAD_REQUEST', message: `body could not be converted: ${(e as Error).message}`, details: undefined };
  }
}
