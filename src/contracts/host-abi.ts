/**
 * The host functions a contract may import: module "hl" (and AssemblyScript's own `env.abort`).
 * Deploy-time validation refuses any other import and any of these with another signature, so
 * the import object built per call (runtime.ts) always satisfies the module.
 * Value types: 0x7f i32, 0x7e i64 (the WebAssembly binary encoding).
 */
const I32 = 0x7f;
const I64 = 0x7e;

export interface HostSignature {
  params: number[];
  results: number[];
}

export const HOST_MODULE = 'hl';

export const HOST_FUNCTIONS: Readonly<Record<string, HostSignature>> = {
  /** (key ptr, key len, value ptr, value capacity) -> value length, or -1 if absent; copies min(length, capacity) bytes. */
  storage_read: { params: [I32, I32, I32, I32], results: [I32] },
  /** (key ptr, key len, value ptr, value len): own contract's store, buffered until the call succeeds. */
  storage_write: { params: [I32, I32, I32, I32], results: [] },
  /** (key ptr, key len) */
  storage_remove: { params: [I32, I32], results: [] },
  /** (out ptr): the 32-byte account that signed the transaction. */
  caller: { params: [I32], results: [] },
  /** (out ptr): this contract's 32-byte address. */
  self_address: { params: [I32], results: [] },
  /** The amount the call moved from the caller to the contract (0 for a deploy). */
  value: { params: [], results: [I64] },
  /** This contract's balance, the call's amount included. */
  balance: { params: [], results: [I64] },
  block_height: { params: [], results: [I64] },
  /** Block timestamp, milliseconds since the Unix epoch, as the block records it. */
  block_time: { params: [], results: [I64] },
  /** (to ptr, amount) -> 0 done, 1 insufficient contract balance, 2 bad amount. */
  transfer: { params: [I32, I64], results: [I32] },
  /** (topic ptr, topic len, data ptr, data len) */
  emit: { params: [I32, I32, I32, I32], results: [] },
  /** Size of the call's (or deploy's init) argument bytes. */
  input_size: { params: [], results: [I32] },
  /** (out ptr): copies the argument bytes. */
  input_read: { params: [I32], results: [] },
  /** (ptr, len): the call's return bytes (last call wins). */
  output: { params: [I32, I32], results: [] },
  /** (message ptr, message len, UTF-8): reverts the call with status CONTRACT_ABORT. */
  abort: { params: [I32, I32], results: [] },
};

/** AssemblyScript's abort(message, fileName, line, column): strings are UTF-16 with the byte length at ptr - 4. */
export const AS_ABORT = { module: 'env', name: 'abort', signature: { params: [I32, I32, I32, I32], results: [] } as HostSignature };

export function hostSignature(module: string, name: string): HostSignature | undefined {
  if (module === HOST_MODULE) return Object.hasOwn(HOST_FUNCTIONS, name) ? HOST_FUNCTIONS[name] : undefined;
  if (module === AS_ABORT.module && name === AS_ABORT.name) return AS_ABORT.signature;
  return undefined;
}
