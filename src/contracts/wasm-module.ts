import { HotledgerError } from '../errors.js';
import { HOST_MODULE, hostSignature } from './host-abi.js';
import { MAX_CALL_DEPTH, MAX_CODE_SIZE, MAX_ENTRIES, MAX_LOCALS, MAX_MEMORY_PAGES, MAX_TABLE_SIZE, Gas, ModuleRejectReason } from './limits.js';

/**
 * Deploy-time validation and instrumentation of a contract module, in one pass of our own over
 * the binary (docs/decisions.md says why not binaryen). Everything the instrumentation adds is
 * appended (types, functions, globals, exports), so no existing index moves and the original
 * instructions are copied byte for byte; only the memory and table limits are rewritten, and the
 * memory is turned into an import (still memory 0) so the runtime can pool memories.
 */

export class ModuleRejected extends HotledgerError {
  readonly reason: ModuleRejectReason;
  constructor(reason: ModuleRejectReason, message: string) {
    super('CONTRACT_MODULE_INVALID', `contract module refused (${reason}): ${message}`, { reason });
    this.name = 'ModuleRejected';
    this.reason = reason;
  }
}

const reject = (reason: ModuleRejectReason, message: string): never => {
  throw new ModuleRejected(reason, message);
};

// Value types.
const I32 = 0x7f;
const I64 = 0x7e;
const F32 = 0x7d;
const F64 = 0x7c;
const V128 = 0x7b;
const FUNCREF = 0x70;
const EXTERNREF = 0x6f;

/** Exported names the instrumentation adds; a module may not export anything under this prefix. */
export const GAS_EXPORT = '__hl_gas';
export const DEPTH_EXPORT = '__hl_depth';
export const START_EXPORT = '__hl_start';
export const RESERVED_PREFIX = '__hl_';
/** The instrumented module imports its memory as hl.__hl_memory (the original defines it). */
export const MEMORY_IMPORT = '__hl_memory';

class Reader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    pos = 0,
    readonly end = buf.length,
  ) {
    this.pos = pos;
  }
  eof(): boolean {
    return this.pos >= this.end;
  }
  u8(): number {
    if (this.pos >= this.end) reject(ModuleRejectReason.MALFORMED, 'unexpected end');
    return this.buf[this.pos++]!;
  }
  u32(): number {
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 5; i++) {
      const b = this.u8();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) {
        if (result > 0xffffffff) reject(ModuleRejectReason.MALFORMED, 'u32 out of range');
        return result;
      }
      shift += 7;
    }
    return reject(ModuleRejectReason.MALFORMED, 'LEB128 too long');
  }
  /** Skips a signed LEB128 of at most `maxBytes` bytes (values are copied, never interpreted). */
  skipSleb(maxBytes: number): void {
    for (let i = 0; i < maxBytes; i++) if ((this.u8() & 0x80) === 0) return;
    reject(ModuleRejectReason.MALFORMED, 'LEB128 too long');
  }
  /** Signed 33-bit LEB128 (block types). */
  s33(): number {
    let result = 0;
    let shift = 0;
    let b: number;
    do {
      b = this.u8();
      result += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (shift > 35) reject(ModuleRejectReason.MALFORMED, 'LEB128 too long');
    } while (b & 0x80);
    if (b & 0x40) result -= 2 ** shift;
    return result;
  }
  bytes(n: number): Uint8Array {
    if (this.pos + n > this.end) reject(ModuleRejectReason.MALFORMED, 'unexpected end');
    const out = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  name(): string {
    const b = this.bytes(this.u32());
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(b);
    } catch {
      return reject(ModuleRejectReason.MALFORMED, 'name is not UTF-8');
    }
  }
  count(what: string): number {
    const n = this.u32();
    if (n > MAX_ENTRIES) reject(ModuleRejectReason.TOO_MANY_ENTRIES, `${n} ${what} (limit ${MAX_ENTRIES})`);
    return n;
  }
}

class Writer {
  private chunks: number[] = [];
  u8(b: number): this {
    this.chunks.push(b & 0xff);
    return this;
  }
  u32(v: number): this {
    do {
      let b = v & 0x7f;
      v = Math.floor(v / 128);
      if (v !== 0) b |= 0x80;
      this.chunks.push(b);
    } while (v !== 0);
    return this;
  }
  s64(v: bigint): this {
    for (;;) {
      const b = Number(v & 0x7fn);
      v >>= 7n;
      if ((v === 0n && (b & 0x40) === 0) || (v === -1n && (b & 0x40) !== 0)) {
        this.chunks.push(b);
        return this;
      }
      this.chunks.push(b | 0x80);
    }
  }
  s32(v: number): this {
    return this.s64(BigInt(v));
  }
  bytes(b: Uint8Array | number[]): this {
    for (const x of b) this.chunks.push(x);
    return this;
  }
  name(s: string): this {
    const b = new TextEncoder().encode(s);
    return this.u32(b.length).bytes(b);
  }
  get length(): number {
    return this.chunks.length;
  }
  toBytes(): Uint8Array {
    return Uint8Array.from(this.chunks);
  }
}

export interface FuncType {
  params: number[];
  results: number[];
}

interface Limits {
  min: number;
  max: number | undefined;
}

interface Section {
  id: number;
  body: Uint8Array;
}

/** What deploy-time validation learnt about a module, and its instrumented bytes. */
export interface PreparedModule {
  /** The instrumented binary the runtime instantiates. */
  instrumented: Uint8Array;
  /** Exported functions of type () -> () a call may name (init excluded). */
  methods: string[];
  /** Whether the module exports `init` of type () -> () (run once at deploy). */
  hasInit: boolean;
  /** Whether the module had a start function (exported as START_EXPORT, run after the gas is set). */
  hasStart: boolean;
  /** Host functions the module imports, by import index. */
  imports: { module: string; name: string }[];
  /** The memory's limits in pages (max already bounded): the runtime supplies a memory of exactly these. */
  memory: { min: number; max: number };
  /** Size of the original code: the per-call instantiation charge is based on it. */
  codeSize: number;
}

interface Instr {
  start: number;
  end: number;
  op: number;
  /** Sub-opcode of 0xFC instructions. */
  sub: number;
  /** Callee of `call`. */
  callee: number;
}

function valType(t: number, where: string): number {
  if (t === I32 || t === I64 || t === F32 || t === F64 || t === FUNCREF || t === EXTERNREF) return t;
  if (t === V128) reject(ModuleRejectReason.SIMD, `v128 in ${where}`);
  return reject(ModuleRejectReason.UNSUPPORTED_FEATURE, `value type 0x${t.toString(16)} in ${where}`);
}

function readLimits(r: Reader, what: 'memory' | 'table'): Limits {
  const flags = r.u8();
  if (what === 'memory' && (flags & 0x02) !== 0) reject(ModuleRejectReason.THREADS, 'shared memory');
  if ((flags & ~0x01) !== 0) reject(ModuleRejectReason.UNSUPPORTED_FEATURE, `${what} limits flags 0x${flags.toString(16)} (memory64 or custom page sizes)`);
  const min = r.u32();
  const max = flags & 0x01 ? r.u32() : undefined;
  return { min, max };
}

function writeLimits(w: Writer, l: Limits): void {
  if (l.max === undefined) w.u8(0).u32(l.min);
  else w.u8(1).u32(l.min).u32(l.max);
}

/** Float operations whose result can carry a NaN's bits into integer state: canonicalise their (top) operand first. */
const CANON_F32_BEFORE = new Set([0x38 /* f32.store */, 0xbc /* i32.reinterpret_f32 */, 0x98 /* f32.copysign: sign operand */]);
const CANON_F64_BEFORE = new Set([0x39 /* f64.store */, 0xbd /* i64.reinterpret_f64 */, 0xa6 /* f64.copysign */]);
/** 0xFC sub-opcodes whose top operand is a length: charged per 32 units by the bulk helper. */
const BULK_SUBOPS = new Set([8 /* memory.init */, 10 /* memory.copy */, 11 /* memory.fill */, 12 /* table.init */, 14 /* table.copy */, 15 /* table.grow */, 17 /* table.fill */]);

/**
 * Decodes one function body's instructions (immediates are skipped, never re-encoded) and
 * refuses what is outside the deterministic set: SIMD, threads, exceptions, tail calls, GC.
 */
function decodeBody(r: Reader, numTypes: number): Instr[] {
  const out: Instr[] = [];
  let depth = 1;
  while (depth > 0) {
    const start = r.pos;
    const op = r.u8();
    let sub = -1;
    let callee = -1;
    switch (op) {
      case 0x00:
      case 0x01:
      case 0x0f:
      case 0x1a:
      case 0x1b:
      case 0xd1:
        break;
      case 0x02:
      case 0x03:
      case 0x04: {
        const bt = r.s33();
        if (bt >= 0 && bt >= numTypes) reject(ModuleRejectReason.MALFORMED, 'block type index');
        if (bt < 0 && bt !== -64) valType(bt + 128, 'block type');
        depth++;
        break;
      }
      case 0x05:
        break;
      case 0x0b:
        depth--;
        break;
      case 0x0c:
      case 0x0d:
        r.u32();
        break;
      case 0x0e: {
        const n = r.u32();
        for (let i = 0; i <= n; i++) r.u32();
        break;
      }
      case 0x10:
        callee = r.u32();
        break;
      case 0x11:
        r.u32();
        r.u32();
        break;
      case 0x12:
      case 0x13:
      case 0x14:
      case 0x15:
        reject(ModuleRejectReason.UNSUPPORTED_FEATURE, 'tail calls / typed function references');
        break;
      case 0x06:
      case 0x07:
      case 0x08:
      case 0x09:
      case 0x0a:
      case 0x18:
      case 0x19:
      case 0x1f:
        reject(ModuleRejectReason.UNSUPPORTED_FEATURE, 'exception handling');
        break;
      case 0x1c: {
        const n = r.u32();
        for (let i = 0; i < n; i++) valType(r.u8(), 'select');
        break;
      }
      case 0x20:
      case 0x21:
      case 0x22:
      case 0x23:
      case 0x24:
      case 0x25:
      case 0x26:
      case 0xd2:
        r.u32();
        break;
      case 0x3f:
      case 0x40:
        if (r.u8() !== 0) reject(ModuleRejectReason.UNSUPPORTED_FEATURE, 'multiple memories');
        break;
      case 0x41:
        r.skipSleb(5);
        break;
      case 0x42:
        r.skipSleb(10);
        break;
      case 0x43:
        r.bytes(4);
        break;
      case 0x44:
        r.bytes(8);
        break;
      case 0xd0:
        valType(r.u8(), 'ref.null');
        break;
      case 0xfc: {
        sub = r.u32();
        if (sub <= 7) break;
        if (sub === 8) {
          r.u32();
          if (r.u8() !== 0) reject(ModuleRejectReason.UNSUPPORTED_FEATURE, 'multiple memories');
        } else if (sub === 9 || sub === 13 || sub === 15 || sub === 16 || sub === 17) r.u32();
        else if (sub === 10) {
          if (r.u8() !== 0 || r.u8() !== 0) reject(ModuleRejectReason.UNSUPPORTED_FEATURE, 'multiple memories');
        } else if (sub === 11) {
          if (r.u8() !== 0) reject(ModuleRejectReason.UNSUPPORTED_FEATURE, 'multiple memories');
        } else if (sub === 12 || sub === 14) {
          r.u32();
          r.u32();
        } else reject(ModuleRejectReason.UNSUPPORTED_FEATURE, `0xfc ${sub}`);
        break;
      }
      case 0xfd:
        reject(ModuleRejectReason.SIMD, 'SIMD instruction');
        break;
      case 0xfe:
        reject(ModuleRejectReason.THREADS, 'atomic instruction');
        break;
      default:
        if (op >= 0x28 && op <= 0x3e) {
          const align = r.u32();
          if (align >= 64) reject(ModuleRejectReason.UNSUPPORTED_FEATURE, 'multiple memories');
          r.u32();
        } else if (op >= 0x45 && op <= 0xc4) {
          // numeric, no immediates
        } else reject(ModuleRejectReason.UNSUPPORTED_FEATURE, `opcode 0x${op.toString(16)}`);
    }
    out.push({ start, end: r.pos, op, sub, callee });
  }
  return out;
}

/** A new basic block starts after these: the gas for it is charged there. */
function endsSegment(op: number): boolean {
  return op === 0x02 || op === 0x03 || op === 0x04 || op === 0x05 || op === 0x0b || op === 0x0d;
}

function instrCost(i: Instr): number {
  if (i.op === 0x10 || i.op === 0x11) return Gas.INSTRUCTION + Gas.CALL;
  if (i.op === 0x40) return Gas.INSTRUCTION + Gas.MEMORY_GROW;
  return Gas.INSTRUCTION;
}

interface Indices {
  gasGlobal: number;
  depthGlobal: number;
  canonF32: number;
  canonF64: number;
  bulk: number;
  numImports: number;
  /** Depth units charged by a call to each defined function (by defined index). */
  frameUnits: number[];
  maxFrameUnits: number;
}

function emitCharge(w: Writer, ix: Indices, cost: number): void {
  // gas -= cost; if (gas < 0) unreachable
  w.u8(0x23).u32(ix.gasGlobal).u8(0x42).s64(BigInt(cost)).u8(0x7d).u8(0x24).u32(ix.gasGlobal);
  w.u8(0x23).u32(ix.gasGlobal).u8(0x42).u8(0).u8(0x53).u8(0x04).u8(0x40).u8(0x00).u8(0x0b);
}

function emitDepth(w: Writer, ix: Indices, units: number, enter: boolean): void {
  w.u8(0x23)
    .u32(ix.depthGlobal)
    .u8(0x41)
    .s32(units)
    .u8(enter ? 0x6a : 0x6b)
    .u8(0x24)
    .u32(ix.depthGlobal);
  if (enter) w.u8(0x23).u32(ix.depthGlobal).u8(0x41).s32(MAX_CALL_DEPTH).u8(0x4b).u8(0x04).u8(0x40).u8(0x00).u8(0x0b);
}

function instrumentBody(code: Uint8Array, instrs: Instr[], ix: Indices, out: Writer): void {
  // Segment costs: segment k starts at function entry or after an instruction that ends one.
  const segCost: number[] = [];
  let cost = 0;
  for (const i of instrs) {
    cost += instrCost(i);
    if (endsSegment(i.op)) {
      segCost.push(cost);
      cost = 0;
    }
  }
  segCost.push(cost);
  let seg = 0;
  let atSegmentStart = true;
  for (const i of instrs) {
    if (atSegmentStart) {
      const c = segCost[seg++]!;
      if (c > 0) emitCharge(out, ix, c);
      atSegmentStart = false;
    }
    let depthUnits = 0;
    if (i.op === 0x10 && i.callee >= ix.numImports) depthUnits = ix.frameUnits[i.callee - ix.numImports] ?? ix.maxFrameUnits;
    else if (i.op === 0x11) depthUnits = ix.maxFrameUnits;
    if (depthUnits > 0) emitDepth(out, ix, depthUnits, true);
    if (CANON_F32_BEFORE.has(i.op)) out.u8(0x10).u32(ix.canonF32);
    else if (CANON_F64_BEFORE.has(i.op)) out.u8(0x10).u32(ix.canonF64);
    else if (i.op === 0xfc && BULK_SUBOPS.has(i.sub)) out.u8(0x10).u32(ix.bulk);
    out.bytes(code.subarray(i.start, i.end));
    if (depthUnits > 0) emitDepth(out, ix, depthUnits, false);
    if (endsSegment(i.op)) atSegmentStart = true;
  }
}

/** Helper bodies appended to the code section (locals vector, then expression). */
function canonBody(f64: boolean): Uint8Array {
  const w = new Writer().u8(0); // no locals
  // local.get 0; local.get 0; fNN.ne; if (result fNN) canonical NaN else local.get 0 end
  w.u8(0x20)
    .u8(0)
    .u8(0x20)
    .u8(0)
    .u8(f64 ? 0x62 : 0x5c)
    .u8(0x04)
    .u8(f64 ? F64 : F32);
  if (f64) w.u8(0x44).bytes([0, 0, 0, 0, 0, 0, 0xf8, 0x7f]);
  else w.u8(0x43).bytes([0, 0, 0xc0, 0x7f]);
  w.u8(0x05).u8(0x20).u8(0).u8(0x0b).u8(0x0b);
  return w.toBytes();
}

function bulkBody(gasGlobal: number): Uint8Array {
  const w = new Writer().u8(0);
  // gas -= (n >> 5) * PER_32_BYTES; trap when negative; return n
  w.u8(0x23).u32(gasGlobal).u8(0x20).u8(0).u8(0xad).u8(0x42).u8(5).u8(0x88).u8(0x42).s64(BigInt(Gas.PER_32_BYTES)).u8(0x7e).u8(0x7d).u8(0x24).u32(gasGlobal);
  w.u8(0x23).u32(gasGlobal).u8(0x42).u8(0).u8(0x53).u8(0x04).u8(0x40).u8(0x00).u8(0x0b);
  w.u8(0x20).u8(0).u8(0x0b);
  return w.toBytes();
}

function section(w: Writer, id: number, body: Uint8Array): void {
  w.u8(id).u32(body.length).bytes(body);
}

/**
 * Validates a contract module against the deploy rules and returns it instrumented for gas,
 * call depth and NaN canonicalisation. Throws ModuleRejected with a stable reason.
 */
export function prepareModule(code: Uint8Array): PreparedModule {
  if (code.length > MAX_CODE_SIZE) reject(ModuleRejectReason.CODE_TOO_LARGE, `${code.length} bytes (limit ${MAX_CODE_SIZE})`);
  const r = new Reader(code);
  const magic = r.bytes(4);
  const version = r.bytes(4);
  if (magic[0] !== 0 || magic[1] !== 0x61 || magic[2] !== 0x73 || magic[3] !== 0x6d) reject(ModuleRejectReason.MALFORMED, 'not a WebAssembly binary');
  if (version[0] !== 1 || version[1] !== 0 || version[2] !== 0 || version[3] !== 0) reject(ModuleRejectReason.MALFORMED, 'WebAssembly version is not 1');

  const sections = new Map<number, Section>();
  let lastId = 0;
  const order = [1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 10, 11];
  while (!r.eof()) {
    const id = r.u8();
    const body = r.bytes(r.u32());
    if (id === 0) continue; // custom sections (names, producers) are dropped: they change nothing
    if (id === 13) reject(ModuleRejectReason.UNSUPPORTED_FEATURE, 'exception tags');
    if (!order.includes(id)) reject(ModuleRejectReason.MALFORMED, `unknown section ${id}`);
    if (order.indexOf(id) <= order.indexOf(lastId)) reject(ModuleRejectReason.MALFORMED, `section ${id} out of order`);
    lastId = id;
    sections.set(id, { id, body });
  }
  const reader = (id: number): Reader | undefined => {
    const s = sections.get(id);
    return s ? new Reader(s.body) : undefined;
  };
  const done = (rd: Reader, what: string): void => {
    if (!rd.eof()) reject(ModuleRejectReason.MALFORMED, `trailing bytes in ${what} section`);
  };

  // Types.
  const types: FuncType[] = [];
  let typesRaw: Uint8Array = new Uint8Array(0);
  const tr = reader(1);
  if (tr) {
    const n = tr.count('types');
    const rawStart = tr.pos;
    for (let i = 0; i < n; i++) {
      if (tr.u8() !== 0x60) reject(ModuleRejectReason.UNSUPPORTED_FEATURE, 'non-function type (GC proposal)');
      const params: number[] = [];
      const results: number[] = [];
      for (let k = tr.u32(); k > 0; k--) params.push(valType(tr.u8(), 'type'));
      for (let k = tr.u32(); k > 0; k--) results.push(valType(tr.u8(), 'type'));
      types.push({ params, results });
    }
    done(tr, 'type');
    typesRaw = tr.buf.subarray(rawStart, tr.end);
  }
  const typeAt = (i: number): FuncType => types[i] ?? reject(ModuleRejectReason.MALFORMED, `type index ${i}`);

  // Imports: host functions only, with their exact signatures.
  const imports: { module: string; name: string }[] = [];
  const funcTypes: number[] = [];
  const ir = reader(2);
  let importsRaw: Uint8Array = new Uint8Array(0);
  if (ir) {
    const n = ir.count('imports');
    const rawStart = ir.pos;
    for (let i = 0; i < n; i++) {
      const module = ir.name();
      const name = ir.name();
      const kind = ir.u8();
      if (kind !== 0) reject(ModuleRejectReason.FORBIDDEN_IMPORT_KIND, `${module}.${name}: only functions may be imported`);
      const ti = ir.u32();
      const want = hostSignature(module, name);
      if (!want) reject(ModuleRejectReason.FORBIDDEN_IMPORT, `${module}.${name} is not a host function`);
      const got = typeAt(ti);
      if (String(got.params) !== String(want!.params) || String(got.results) !== String(want!.results)) {
        reject(ModuleRejectReason.FORBIDDEN_IMPORT, `${module}.${name} imported with the wrong signature`);
      }
      imports.push({ module, name });
      funcTypes.push(ti);
    }
    done(ir, 'import');
    importsRaw = ir.buf.subarray(rawStart, ir.end);
  }
  const numImports = imports.length;

  const fr = reader(3);
  const definedTypes: number[] = [];
  if (fr) {
    const n = fr.count('functions');
    for (let i = 0; i < n; i++) {
      const ti = fr.u32();
      typeAt(ti);
      definedTypes.push(ti);
      funcTypes.push(ti);
    }
    done(fr, 'function');
  }

  // Table and memory: bounded, their maxima rewritten to the bound.
  const tables: { refType: number; limits: Limits }[] = [];
  const tbr = reader(4);
  if (tbr) {
    const n = tbr.count('tables');
    for (let i = 0; i < n; i++) {
      const refType = tbr.u8();
      if (refType !== FUNCREF && refType !== EXTERNREF) reject(ModuleRejectReason.UNSUPPORTED_FEATURE, 'table type');
      const limits = readLimits(tbr, 'table');
      if (limits.min > MAX_TABLE_SIZE) reject(ModuleRejectReason.TABLE_TOO_LARGE, `table of ${limits.min} entries (limit ${MAX_TABLE_SIZE})`);
      tables.push({ refType, limits: { min: limits.min, max: Math.min(limits.max ?? MAX_TABLE_SIZE, MAX_TABLE_SIZE) } });
    }
    done(tbr, 'table');
  }
  const mr = reader(5);
  let memory: Limits | undefined;
  if (mr) {
    const n = mr.u32();
    if (n > 1) reject(ModuleRejectReason.UNSUPPORTED_FEATURE, 'multiple memories');
    if (n === 1) {
      const limits = readLimits(mr, 'memory');
      if (limits.min > MAX_MEMORY_PAGES) reject(ModuleRejectReason.MEMORY_TOO_LARGE, `${limits.min} initial pages (limit ${MAX_MEMORY_PAGES})`);
      memory = { min: limits.min, max: Math.min(limits.max ?? MAX_MEMORY_PAGES, MAX_MEMORY_PAGES) };
    }
    done(mr, 'memory');
  }

  // Globals: counted (appended ones take the next indices); their bytes are copied as they are.
  let numGlobals = 0;
  let globalsRaw: Uint8Array = new Uint8Array(0);
  const gr = reader(6);
  if (gr) {
    numGlobals = gr.count('globals');
    const start = gr.pos;
    for (let i = 0; i < numGlobals; i++) {
      valType(gr.u8(), 'global');
      gr.u8(); // mutability
      decodeBody(gr, types.length); // constant expression, up to its end
    }
    done(gr, 'global');
    globalsRaw = gr.buf.subarray(start, gr.end);
  }

  // Exports.
  const exports: { name: string; kind: number; index: number }[] = [];
  const er = reader(7);
  if (er) {
    const n = er.count('exports');
    for (let i = 0; i < n; i++) {
      const name = er.name();
      const kind = er.u8();
      const index = er.u32();
      if (name.startsWith(RESERVED_PREFIX)) reject(ModuleRejectReason.RESERVED_EXPORT, `export ${name}`);
      exports.push({ name, kind, index });
    }
    done(er, 'export');
  }
  if (!memory || !exports.some((e) => e.name === 'memory' && e.kind === 2 && e.index === 0))
    reject(ModuleRejectReason.NO_MEMORY, 'the module must define a memory and export it as "memory"');

  let start: number | undefined;
  const sr = reader(8);
  if (sr) {
    start = sr.u32();
    done(sr, 'start');
  }
  if (sections.has(9)) new Reader(sections.get(9)!.body).count('element segments');
  if (sections.has(11)) new Reader(sections.get(11)!.body).count('data segments');

  // Code: decode every body (feature checks), then instrument.
  const bodies: { locals: Uint8Array; code: Uint8Array; instrs: Instr[]; numLocals: number }[] = [];
  const cr = reader(10);
  if (cr) {
    const n = cr.count('function bodies');
    if (n !== definedTypes.length) reject(ModuleRejectReason.MALFORMED, 'function and code counts differ');
    for (let i = 0; i < n; i++) {
      const size = cr.u32();
      const br = new Reader(cr.buf, cr.pos, cr.pos + size);
      cr.pos += size;
      if (cr.pos > cr.end) reject(ModuleRejectReason.MALFORMED, 'function body past the section');
      const localsStart = br.pos;
      let numLocals = typeAt(definedTypes[i]!).params.length;
      for (let k = br.u32(); k > 0; k--) {
        const c = br.u32();
        valType(br.u8(), 'local');
        numLocals += c;
        if (numLocals > MAX_LOCALS) reject(ModuleRejectReason.TOO_MANY_LOCALS, `function ${numImports + i} has more than ${MAX_LOCALS} locals`);
      }
      const locals = br.buf.subarray(localsStart, br.pos);
      const instrs = decodeBody(br, types.length);
      done(br, 'code body');
      bodies.push({ locals, code: br.buf, instrs, numLocals });
    }
    done(cr, 'code');
  } else if (definedTypes.length > 0) reject(ModuleRejectReason.MALFORMED, 'functions without code');

  // Appended entities.
  const sigF32 = types.length;
  const sigF64 = types.length + 1;
  const sigBulk = types.length + 2;
  const numDefined = definedTypes.length;
  // A frame holds its locals and at most one operand per instruction: 32 value slots per unit.
  const frameUnits = bodies.map((b) => 1 + Math.ceil((b.numLocals + b.instrs.length) / 32));
  const ix: Indices = {
    gasGlobal: numGlobals,
    depthGlobal: numGlobals + 1,
    canonF32: numImports + numDefined,
    canonF64: numImports + numDefined + 1,
    bulk: numImports + numDefined + 2,
    numImports,
    frameUnits,
    maxFrameUnits: Math.max(1, ...frameUnits),
  };

  const out = new Writer().bytes([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);
  {
    const w = new Writer().u32(types.length + 3);
    w.bytes(typesRaw);
    w.u8(0x60).u32(1).u8(F32).u32(1).u8(F32);
    w.u8(0x60).u32(1).u8(F64).u32(1).u8(F64);
    w.u8(0x60).u32(1).u8(I32).u32(1).u8(I32);
    section(out, 1, w.toBytes());
  }
  {
    // The module's memory becomes an import (same index 0, same limits after the bound), so the
    // runtime can hand each call a pooled, zeroed memory instead of allocating one per call.
    const w = new Writer().u32(imports.length + 1).bytes(importsRaw);
    writeLimits(w.name(HOST_MODULE).name(MEMORY_IMPORT).u8(2), memory!);
    section(out, 2, w.toBytes());
  }
  {
    const w = new Writer().u32(numDefined + 3);
    for (const t of definedTypes) w.u32(t);
    w.u32(sigF32).u32(sigF64).u32(sigBulk);
    section(out, 3, w.toBytes());
  }
  if (tables.length > 0) {
    const w = new Writer().u32(tables.length);
    for (const t of tables) writeLimits(w.u8(t.refType), t.limits);
    section(out, 4, w.toBytes());
  }
  {
    const w = new Writer().u32(numGlobals + 2).bytes(globalsRaw);
    w.u8(I64).u8(1).u8(0x42).u8(0).u8(0x0b); // gas left
    w.u8(I32).u8(1).u8(0x41).u8(0).u8(0x0b); // call depth units
    section(out, 6, w.toBytes());
  }
  {
    const extra = start === undefined ? 2 : 3;
    const w = new Writer().u32(exports.length + extra);
    for (const e of exports) w.name(e.name).u8(e.kind).u32(e.index);
    w.name(GAS_EXPORT).u8(3).u32(ix.gasGlobal);
    w.name(DEPTH_EXPORT).u8(3).u32(ix.depthGlobal);
    if (start !== undefined) w.name(START_EXPORT).u8(0).u32(start);
    section(out, 7, w.toBytes());
  }
  // No start section: the runtime calls START_EXPORT itself once the gas is set, so it is metered.
  if (sections.has(9)) section(out, 9, sections.get(9)!.body);
  if (sections.has(12)) section(out, 12, sections.get(12)!.body);
  {
    const w = new Writer().u32(numDefined + 3);
    for (const b of bodies) {
      const body = new Writer().bytes(b.locals);
      instrumentBody(b.code, b.instrs, ix, body);
      w.u32(body.length).bytes(body.toBytes());
    }
    for (const h of [canonBody(false), canonBody(true), bulkBody(ix.gasGlobal)]) w.u32(h.length).bytes(h);
    section(out, 10, w.toBytes());
  }
  if (sections.has(11)) section(out, 11, sections.get(11)!.body);

  const instrumented = out.toBytes();
  if (!WebAssembly.validate(code)) reject(ModuleRejectReason.INVALID_MODULE, 'the module does not validate');
  if (!WebAssembly.validate(instrumented)) reject(ModuleRejectReason.INVALID_MODULE, 'the instrumented module does not validate');

  const isVoid = (fi: number): boolean => {
    const t = types[funcTypes[fi]!];
    return t !== undefined && t.params.length === 0 && t.results.length === 0;
  };
  const fnExports = exports.filter((e) => e.kind === 0 && e.index >= numImports && isVoid(e.index));
  return {
    instrumented,
    methods: fnExports.map((e) => e.name).filter((n) => n !== 'init'),
    hasInit: fnExports.some((e) => e.name === 'init'),
    hasStart: start !== undefined,
    imports,
    memory: { min: memory!.min, max: memory!.max! },
    codeSize: code.length,
  };
}
