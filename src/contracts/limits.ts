/**
 * Protocol constants of the contract layer. Every node must use the same values (they decide
 * which deploys are refused and where a call runs out of gas), so they are constants, not
 * configuration: changing one is a protocol change. docs/decisions.md explains each choice.
 */

/** Largest deploy code accepted, bytes (before instrumentation). */
export const MAX_CODE_SIZE = 128 * 1024;
/** Largest init or call argument, bytes. */
export const MAX_ARGS_SIZE = 16 * 1024;
/** Longest method name, bytes (ASCII [A-Za-z0-9_]). */
export const MAX_METHOD_LENGTH = 64;
/** Highest gas limit one transaction may ask for. */
export const MAX_TX_GAS = 50_000_000;
/** Gas all contract transactions of one block may use together (limits sum, checked by the block builder). */
export const BLOCK_GAS_LIMIT = 200_000_000;

/** Linear memory bound: 16 pages of 64 KiB = 1 MiB. memory.grow past it returns -1 (deterministic). */
export const MAX_MEMORY_PAGES = 16;
/** Table bound, entries. table.grow past it returns -1. */
export const MAX_TABLE_SIZE = 1024;
/** Locals (params included) one function may declare: bounds a frame's native stack use. */
export const MAX_LOCALS = 256;
/** Functions, globals, types, exports, data/element segments a module may declare (each). */
export const MAX_ENTRIES = 4096;
/**
 * Call depth bound, in frame units: a call costs 1 + ceil(callee locals / 32) units. With
 * MAX_LOCALS this keeps the deepest legal stack far below V8's native limit, so the bound,
 * not the host's stack size, decides deterministically where recursion stops.
 */
export const MAX_CALL_DEPTH = 1024;

/** Gas schedule (docs/decisions.md, "Gas"). */
export const Gas = {
  /** Every instruction, charged at the start of its basic block. */
  INSTRUCTION: 1,
  /** Extra for call / call_indirect (frame set-up, depth check). */
  CALL: 5,
  /** Extra for memory.grow (a page is zeroed). */
  MEMORY_GROW: 1_000,
  /** Bulk memory / table ops: per 32 bytes (or entries) moved, on top of INSTRUCTION. */
  PER_32_BYTES: 1,
  /** Every host function call, on top of its instructions. */
  HOST_CALL: 100,
  /** Host calls that move bytes: per byte of key, value, event or argument copied. */
  HOST_BYTE: 1,
  /** storage_write of a key (state growth), on top of HOST_CALL. */
  STORAGE_WRITE: 5_000,
  /** storage_read, on top of HOST_CALL. */
  STORAGE_READ: 200,
  /** Instantiation of a module per call, per byte of its original code. */
  PER_CODE_BYTE: 1,
  /**
   * The first call of a code in a block (runtime.ts WarmCode), per byte of its code, on top of
   * PER_CODE_BYTE: validation, instrumentation and compile, ~1 µs per byte measured, priced at
   * the rate a block of token transfers turns gas into time (~100 gas per µs of the ledger thread).
   */
  COLD_CODE_PER_BYTE: 100,
  /** A deploy validates, compiles (as COLD_CODE_PER_BYTE) and stores the code once: per byte. */
  DEPLOY_PER_BYTE: 150,
} as const;

/**
 * Fee: every deploy and call pays ceil(gasUsed / GAS_PER_FEE_UNIT) from the sender's balance,
 * also when it reverts; the fee is burned. A transaction whose sender cannot cover
 * ceil(gasLimit / GAS_PER_FEE_UNIT) + amount is refused before it runs.
 */
export const GAS_PER_FEE_UNIT = 1_000;

export function feeFor(gas: number): number {
  return Math.ceil(gas / GAS_PER_FEE_UNIT);
}

/** Why deploy-time validation refused a module. Stable names: part of the API's error details. */
export const ModuleRejectReason = {
  /** Not a WebAssembly binary, or a section / instruction could not be decoded. */
  MALFORMED: 'MALFORMED',
  CODE_TOO_LARGE: 'CODE_TOO_LARGE',
  /** An import that is not one of the host functions, or a host function with the wrong signature. */
  FORBIDDEN_IMPORT: 'FORBIDDEN_IMPORT',
  /** Imported memory, table or global: the host provides functions only. */
  FORBIDDEN_IMPORT_KIND: 'FORBIDDEN_IMPORT_KIND',
  /** Threads: shared memory or an atomic instruction (0xFE prefix). */
  THREADS: 'THREADS',
  /** SIMD (0xFD prefix) or the v128 type. */
  SIMD: 'SIMD',
  /** Exceptions, tail calls, GC, memory64, multiple memories: proposals not ruled deterministic here. */
  UNSUPPORTED_FEATURE: 'UNSUPPORTED_FEATURE',
  MEMORY_TOO_LARGE: 'MEMORY_TOO_LARGE',
  TABLE_TOO_LARGE: 'TABLE_TOO_LARGE',
  TOO_MANY_LOCALS: 'TOO_MANY_LOCALS',
  TOO_MANY_ENTRIES: 'TOO_MANY_ENTRIES',
  /** The module has no exported memory named "memory" (host functions read and write it). */
  NO_MEMORY: 'NO_MEMORY',
  /** An export name starting with "__hl_" (reserved for the instrumentation). */
  RESERVED_EXPORT: 'RESERVED_EXPORT',
  /** WebAssembly.Module refused the (instrumented) module: invalid code. */
  INVALID_MODULE: 'INVALID_MODULE',
} as const;
export type ModuleRejectReason = (typeof ModuleRejectReason)[keyof typeof ModuleRejectReason];
