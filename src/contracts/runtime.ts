import { RejectCode } from '../errors.js';
import type { ContractTx } from '../tx/contract-tx.js';
import { MAX_AMOUNT } from '../tx/layout.js';
import { AS_ABORT, HOST_FUNCTIONS, HOST_MODULE } from './host-abi.js';
import { feeFor, Gas, MAX_CALL_DEPTH } from './limits.js';
import { byteKey, codeHash, contractAddress, StateOverlay } from './state.js';
import { DEPTH_EXPORT, GAS_EXPORT, MEMORY_IMPORT, ModuleRejected, type PreparedModule, prepareModule, START_EXPORT } from './wasm-module.js';

export interface BlockContext {
  height: number;
  /** Block timestamp, ms since the Unix epoch, as the block records it (never the local clock). */
  timeMs: number;
  /**
   * The block's warm code (WarmCode): the lane passes one per block. Without it every call is a
   * block of its own, so every call is cold.
   */
  warm?: WarmCode;
}

/**
 * Code deployed or called earlier in the block, with its compiled module kept until the block
 * ends. A call to code not in it is *cold* and pays Gas.COLD_CODE_PER_BYTE per code byte: the
 * rule depends on the block alone, so every node charges the same whether its own compile cache
 * held the module or not, and the module stays compiled for the rest of the block even if the
 * cache evicts it, so a block never compiles a code more than once without being paid for it.
 */
export class WarmCode {
  /** Compiled modules by code-hash key; private to the runtime. */
  readonly modules = new Map<string, Compiled>();
}

export interface ContractEvent {
  contract: Buffer;
  topic: Buffer;
  data: Buffer;
}

/** The outcome of one deploy or call. `status` is 0 or a RejectCode (OUT_OF_GAS, CONTRACT_TRAP, ...). */
export interface ContractResult {
  status: number;
  gasUsed: number;
  /** Burned from the sender: feeFor(gasUsed), also when the call reverted. 0 when refused before running. */
  fee: number;
  events: ContractEvent[];
  output: Buffer;
  /** The deployed contract's address (deploys that succeeded). */
  address?: Buffer;
  /** Abort message, trap text or the module's refusal reason. */
  message?: string;
}

/** Thrown by host functions through the WebAssembly frames; caught at the call's boundary. */
class HostStop extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface Compiled {
  prepared: PreparedModule;
  module: WebAssembly.Module;
  /** The import object, made at the first call (the host functions are the runtime's); the memory is set per call. */
  imports?: WebAssembly.Imports;
}

interface Invocation {
  address: Buffer;
  caller: Buffer;
  value: number;
  input: Uint8Array;
  gasLimit: number;
  /** Gas charged in JS before the module runs (instantiation, code storage). */
  baseGas: number;
  block: BlockContext;
}

/**
 * What the runtime needs of a contract transaction: a decoded ContractTx is one, and so is the
 * lane's direct read of an included call's fields (no copies, no id hash).
 */
export type RunnableTx =
  | { kind: 'deploy'; sender: Uint8Array; nonce: number; gasLimit: number; code: Uint8Array; initArgs: Uint8Array }
  | { kind: 'call'; sender: Uint8Array; gasLimit: number; contract: Uint8Array; method: string; args: Uint8Array; amount: number };

/** Compiled modules a runtime keeps (LRU by code hash); a miss costs a validation and a compile. */
export const MAX_COMPILED_MODULES = 64;

const utf8 = new TextDecoder('utf-8');
const utf16 = new TextDecoder('utf-16le');

/**
 * Runs contract transactions against a state reader. Stateless apart from a cache of compiled
 * modules by code hash (compilation does not change results, so a cold and a warm runtime agree).
 * One runtime may serve the whole ledger thread; calls never overlap.
 */
export class ContractRuntime {
  private readonly compiled = new Map<string, Compiled>();
  /**
   * Memories not grown by their last call, by "min:max" pages. Allocating a WebAssembly memory
   * costs ~4-6x a whole instantiation with a pooled one; a pooled memory is zeroed before every
   * use, and instantiation then writes the data segments, so a call sees exactly a fresh memory.
   */
  private readonly memories = new Map<string, WebAssembly.Memory[]>();

  private takeMemory(min: number, max: number): WebAssembly.Memory {
    const m = this.memories.get(`${min}:${max}`)?.pop();
    if (!m) return new WebAssembly.Memory({ initial: min, maximum: max });
    new Uint8Array(m.buffer).fill(0);
    return m;
  }

  private returnMemory(m: WebAssembly.Memory, min: number, max: number): void {
    // A grown memory cannot shrink back to `min` pages: it is dropped.
    if (m.buffer.byteLength !== min * 65_536) return;
    const key = `${min}:${max}`;
    let pool = this.memories.get(key);
    if (!pool) this.memories.set(key, (pool = []));
    if (pool.length < 4) pool.push(m);
  }

  /**
   * Executes one contract transaction into `state`: the fee is always applied to `state`, the
   * call's own changes only if it succeeded. Nonce and signature are the ledger's to check.
   */
  execute(state: StateOverlay, tx: ContractTx | RunnableTx, block: BlockContext): ContractResult {
    const amount = tx.kind === 'call' ? tx.amount : 0;
    if (state.getBalance(tx.sender) < feeFor(tx.gasLimit) + amount) return refused(RejectCode.INSUFFICIENT_FUNDS);
    const r = tx.kind === 'deploy' ? this.deploy(state, tx.sender, tx.nonce, tx.code, tx.initArgs, tx.gasLimit, block) : this.call(state, tx, block);
    if (r.gasUsed > 0) {
      r.fee = feeFor(r.gasUsed);
      state.setBalance(tx.sender, state.getBalance(tx.sender) - r.fee);
    }
    return r;
  }

  deploy(state: StateOverlay, deployer: Uint8Array, nonce: number, code: Uint8Array, initArgs: Uint8Array, gasLimit: number, block: BlockContext): ContractResult {
    const baseGas = code.length * Gas.DEPLOY_PER_BYTE;
    if (baseGas > gasLimit) return { ...refused(RejectCode.OUT_OF_GAS), gasUsed: gasLimit };
    let compiled: Compiled;
    const key = byteKey(codeHash(code));
    try {
      compiled = this.compile(code, key);
    } catch (e) {
      if (e instanceof ModuleRejected) return { ...refused(RejectCode.MODULE_INVALID), gasUsed: baseGas, message: e.message };
      throw e;
    }
    // DEPLOY_PER_BYTE covers the compile: the code is warm for the rest of the block.
    block.warm?.modules.set(key, compiled);
    const address = contractAddress(deployer, nonce);
    const child = new StateOverlay(state);
    const h = child.putCode(code);
    child.putContract(address, { codeHash: h, deployer: Buffer.from(deployer) });
    let r: ContractResult = { ...refused(0), gasUsed: baseGas };
    if (compiled.prepared.hasInit || compiled.prepared.hasStart) {
      r = this.run(child, compiled, compiled.prepared.hasInit ? 'init' : undefined, {
        address,
        caller: Buffer.from(deployer),
        value: 0,
        input: initArgs,
        gasLimit,
        baseGas,
        block,
      });
    }
    if (r.status === 0) {
      child.commit();
      r.address = address;
    }
    return r;
  }

  call(
    state: StateOverlay,
    tx: { sender: Uint8Array; contract: Uint8Array; method: string; args: Uint8Array; amount: number; gasLimit: number },
    block: BlockContext,
  ): ContractResult {
    const contract = Buffer.from(tx.contract);
    const record = state.getContract(contract);
    if (!record) return refused(RejectCode.CONTRACT_NOT_FOUND);
    const code = state.getCode(record.codeHash);
    if (!code) throw new Error(`contract ${contract.toString('hex')} has no code ${record.codeHash.toString('hex')}`);
    // The record's hash is the code's (putCode stores code by its hash): no need to hash the code again.
    const key = byteKey(record.codeHash);
    const warm = block.warm?.modules.get(key);
    const baseGas = code.length * (Gas.PER_CODE_BYTE + (warm ? 0 : Gas.COLD_CODE_PER_BYTE));
    // Paid for before anything compiles: a call that cannot cover its code never costs a compile.
    if (baseGas > tx.gasLimit) return { ...refused(RejectCode.OUT_OF_GAS), gasUsed: tx.gasLimit };
    const compiled = warm ?? this.compile(code, key);
    block.warm?.modules.set(key, compiled);
    if (!compiled.prepared.methods.includes(tx.method)) return { ...refused(RejectCode.METHOD_NOT_FOUND), gasUsed: baseGas };
    const child = new StateOverlay(state);
    if (tx.amount > 0 && !child.move(tx.sender, contract, tx.amount)) return { ...refused(RejectCode.INSUFFICIENT_FUNDS), gasUsed: baseGas };
    const r = this.run(child, compiled, tx.method, { address: contract, caller: Buffer.from(tx.sender), value: tx.amount, input: tx.args, gasLimit: tx.gasLimit, baseGas, block });
    if (r.status === 0) child.commit();
    return r;
  }

  /**
   * Validates, instruments and compiles once per distinct code (keyed by content). The cache is
   * an LRU of MAX_COMPILED_MODULES: anyone can deploy code, and every distinct module kept would
   * hold its compiled machine code for the life of the ledger thread.
   */
  private compile(code: Uint8Array, key: string): Compiled {
    let c = this.compiled.get(key);
    if (c) {
      this.compiled.delete(key);
    } else {
      const prepared = prepareModule(code);
      c = { prepared, module: new WebAssembly.Module(prepared.instrumented) };
      if (this.compiled.size >= MAX_COMPILED_MODULES) this.compiled.delete(this.compiled.keys().next().value!);
    }
    this.compiled.set(key, c);
    return c;
  }

  /** Compiled modules held (tests of the bound). */
  get compiledModules(): number {
    return this.compiled.size;
  }

  private run(state: StateOverlay, compiled: Compiled, method: string | undefined, inv: Invocation): ContractResult {
    // The module's only memory (deploy validation requires one); its buffer changes on growth.
    const { min, max } = compiled.prepared.memory;
    const mem = this.takeMemory(min, max);
    const frame: Frame = { state, inv, mem, view: new Uint8Array(mem.buffer), gas: undefined, events: [], output: Buffer.alloc(0) };
    this.frame = frame;
    let imports = compiled.imports;
    if (!imports) {
      imports = { [HOST_MODULE]: {}, [AS_ABORT.module]: {} };
      for (const { module, name } of compiled.prepared.imports) {
        imports[module]![name] = module === HOST_MODULE && Object.hasOwn(HOST_FUNCTIONS, name) ? this.host[name]! : this.asAbort;
      }
      compiled.imports = imports;
    }
    imports[HOST_MODULE]![MEMORY_IMPORT] = mem;

    let exports: WebAssembly.Exports | undefined;
    let status = 0;
    let message: string | undefined;
    try {
      // No start section is left in the instrumented module, so instantiation runs no contract code.
      const instance = new WebAssembly.Instance(compiled.module, imports);
      exports = instance.exports;
      const gas = exports[GAS_EXPORT] as WebAssembly.Global;
      gas.value = BigInt(inv.gasLimit - inv.baseGas);
      frame.gas = gas;
      (exports[DEPTH_EXPORT] as WebAssembly.Global).value = 0;
      if (compiled.prepared.hasStart) (exports[START_EXPORT] as () => void)();
      if (method !== undefined) (exports[method] as () => void)();
    } catch (e) {
      const depth = exports ? Number((exports[DEPTH_EXPORT] as WebAssembly.Global).value) : 0;
      const left = frame.gas ? (frame.gas.value as bigint) : 0n;
      if (e instanceof HostStop) {
        status = e.status;
        message = e.message;
      } else if (left < 0n) {
        status = RejectCode.OUT_OF_GAS;
      } else if (depth > MAX_CALL_DEPTH || e instanceof RangeError) {
        // The depth bound is set so it is always hit before V8's own stack limit (RangeError).
        status = RejectCode.STACK_OVERFLOW;
      } else if (e instanceof WebAssembly.RuntimeError) {
        status = RejectCode.CONTRACT_TRAP;
        message = e.message;
      } else throw e;
    } finally {
      this.frame = undefined;
      // The cached import object must not keep a pooled memory alive after the call.
      delete imports[HOST_MODULE]![MEMORY_IMPORT];
    }
    this.returnMemory(mem, min, max);
    let gasLeft = frame.gas ? (frame.gas.value as bigint) : 0n;
    if (status === RejectCode.OUT_OF_GAS || gasLeft < 0n) gasLeft = 0n;
    const gasUsed = inv.gasLimit - Number(gasLeft);
    if (status !== 0) return { status, gasUsed, fee: 0, events: [], output: Buffer.alloc(0), ...(message !== undefined ? { message } : {}) };
    return { status, gasUsed, fee: 0, events: frame.events, output: frame.output };
  }

  /**
   * The host functions, made once per runtime: they act on `this.frame`, the call running now
   * (calls never overlap, and no host function starts another call). Making ~20 closures and an
   * import object per call cost more than the token's own transfer code.
   */
  private frame: Frame | undefined;

  private current(): Frame {
    const f = this.frame;
    if (!f) throw new Error('host function called outside a contract call');
    return f;
  }

  private charge(f: Frame, n: number): void {
    const gas = f.gas;
    if (!gas) throw new HostStop(RejectCode.CONTRACT_TRAP, 'host function called during instantiation');
    const left = (gas.value as bigint) - BigInt(n);
    gas.value = left;
    if (left < 0n) throw new HostStop(RejectCode.OUT_OF_GAS, 'out of gas in a host function');
  }

  private read(f: Frame, ptr: number, len: number): Uint8Array {
    const mem = viewOf(f);
    const p = ptr >>> 0;
    const l = len >>> 0;
    if (p + l > mem.length) throw new HostStop(RejectCode.CONTRACT_TRAP, 'host function read out of bounds');
    return mem.subarray(p, p + l);
  }

  private write(f: Frame, ptr: number, bytes: Uint8Array): void {
    const mem = viewOf(f);
    const p = ptr >>> 0;
    if (p + bytes.length > mem.length) throw new HostStop(RejectCode.CONTRACT_TRAP, 'host function write out of bounds');
    mem.set(bytes, p);
  }

  private readonly host: Record<string, (...args: never[]) => unknown> = {
    storage_read: (kp: number, kl: number, vp: number, vcap: number): number => {
      const f = this.current();
      this.charge(f, BASE + Gas.STORAGE_READ + (kl >>> 0) * Gas.HOST_BYTE);
      const v = f.state.getStorage(f.inv.address, this.read(f, kp, kl));
      if (!v) return -1;
      const n = Math.min(v.length, vcap >>> 0);
      this.charge(f, n * Gas.HOST_BYTE);
      this.write(f, vp, v.subarray(0, n));
      return v.length;
    },
    storage_write: (kp: number, kl: number, vp: number, vl: number): void => {
      const f = this.current();
      this.charge(f, BASE + Gas.STORAGE_WRITE + ((kl >>> 0) + (vl >>> 0)) * Gas.HOST_BYTE);
      f.state.putStorage(f.inv.address, this.read(f, kp, kl), this.read(f, vp, vl));
    },
    storage_remove: (kp: number, kl: number): void => {
      const f = this.current();
      this.charge(f, BASE + (kl >>> 0) * Gas.HOST_BYTE);
      f.state.putStorage(f.inv.address, this.read(f, kp, kl), null);
    },
    caller: (out: number): void => {
      const f = this.current();
      this.charge(f, BASE);
      this.write(f, out, f.inv.caller);
    },
    self_address: (out: number): void => {
      const f = this.current();
      this.charge(f, BASE);
      this.write(f, out, f.inv.address);
    },
    value: (): bigint => {
      const f = this.current();
      this.charge(f, BASE);
      return BigInt(f.inv.value);
    },
    balance: (): bigint => {
      const f = this.current();
      this.charge(f, BASE);
      return BigInt(f.state.getBalance(f.inv.address));
    },
    block_height: (): bigint => {
      const f = this.current();
      this.charge(f, BASE);
      return BigInt(f.inv.block.height);
    },
    block_time: (): bigint => {
      const f = this.current();
      this.charge(f, BASE);
      return BigInt(f.inv.block.timeMs);
    },
    transfer: (to: number, amount: bigint): number => {
      const f = this.current();
      this.charge(f, BASE);
      const dest = Buffer.from(this.read(f, to, 32));
      if (amount <= 0n || amount > BigInt(MAX_AMOUNT)) return 2;
      return f.state.move(f.inv.address, dest, Number(amount)) ? 0 : 1;
    },
    emit: (tp: number, tl: number, dp: number, dl: number): void => {
      const f = this.current();
      this.charge(f, BASE + ((tl >>> 0) + (dl >>> 0)) * Gas.HOST_BYTE);
      f.events.push({ contract: f.inv.address, topic: Buffer.from(this.read(f, tp, tl)), data: Buffer.from(this.read(f, dp, dl)) });
    },
    input_size: (): number => {
      const f = this.current();
      this.charge(f, BASE);
      return f.inv.input.length;
    },
    input_read: (out: number): void => {
      const f = this.current();
      this.charge(f, BASE + f.inv.input.length * Gas.HOST_BYTE);
      this.write(f, out, f.inv.input);
    },
    output: (p: number, l: number): void => {
      const f = this.current();
      this.charge(f, BASE + (l >>> 0) * Gas.HOST_BYTE);
      f.output = Buffer.from(this.read(f, p, l));
    },
    abort: (p: number, l: number): never => {
      const f = this.current();
      this.charge(f, BASE);
      throw new HostStop(RejectCode.CONTRACT_ABORT, utf8.decode(this.read(f, p, Math.min(l >>> 0, 1024))));
    },
  };

  /** AssemblyScript's env.abort. */
  private readonly asAbort = (msg: number, _file: number, line: number, col: number): never => {
    const f = this.current();
    this.charge(f, BASE);
    let text = 'abort';
    if (msg !== 0 && msg >= 4) {
      const len = new DataView(viewOf(f).buffer).getUint32(msg - 4, true);
      text = utf16.decode(this.read(f, msg, Math.min(len, 2048)));
    }
    throw new HostStop(RejectCode.CONTRACT_ABORT, `${text} (line ${line >>> 0}, column ${col >>> 0})`);
  };
}

const BASE = Gas.HOST_CALL;

/** The running call: what the host functions read and write. */
interface Frame {
  state: StateOverlay;
  inv: Invocation;
  mem: WebAssembly.Memory;
  /** A view of mem's buffer; growing the memory detaches it (length 0), then a new one is made. */
  view: Uint8Array;
  /** Set once the instance exists: a host function before that is a trap. */
  gas: WebAssembly.Global | undefined;
  events: ContractEvent[];
  output: Buffer;
}

function viewOf(f: Frame): Uint8Array {
  if (f.view.byteLength === 0) f.view = new Uint8Array(f.mem.buffer);
  return f.view;
}

function refused(status: number): ContractResult {
  return { status, gasUsed: 0, fee: 0, events: [], output: Buffer.alloc(0) };
}
