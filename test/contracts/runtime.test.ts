/**
 * The runtime against real AssemblyScript output (contracts/*.ts, compiled by contracts/build.mjs
 * into dist/contracts): the example token and escrow, and the testkit's traps, loops, recursion
 * and floats. Every call goes through deploy-time validation and instrumentation.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { feeFor, Gas } from '../../src/contracts/limits.js';
import { type BlockContext, type ContractResult, ContractRuntime, WarmCode } from '../../src/contracts/runtime.js';
import { MemoryContractState, StateOverlay } from '../../src/contracts/state.js';
import { keyPairFromSeed } from '../../src/crypto/keys.js';
import { RejectCode } from '../../src/errors.js';
import { decodeContractTx, signContractTx } from '../../src/tx/contract-tx.js';
import { code, exports, funcs, I32, imports, memory, module, types } from './wasm-builder.js';

const wasm: Record<string, Buffer> = {};
beforeAll(() => {
  // Incremental: compiles only when a contract source is newer than its .wasm.
  execFileSync(process.execPath, ['contracts/build.mjs'], { stdio: 'inherit', timeout: 120_000 });
  for (const n of ['token', 'escrow', 'testkit']) wasm[n] = readFileSync(`dist/contracts/${n}.wasm`);
}, 150_000);

const alice = Buffer.alloc(32, 0xa1);
const bob = Buffer.alloc(32, 0xb0);
const carol = Buffer.alloc(32, 0xc0);
const block: BlockContext = { height: 42, timeMs: 1_800_000_000_123 };
const u64 = (n: number | bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};
const u32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
};

/** One chain's contract state: a base and one overlay standing for the block being executed. */
class Chain {
  readonly rt = new ContractRuntime();
  readonly base = new MemoryContractState();
  state = new StateOverlay(this.base);
  nonces = new Map<string, number>();
  constructor() {
    for (const a of [alice, bob, carol]) this.base.credit(a, 1_000_000);
  }
  private nonce(who: Buffer): number {
    const n = (this.nonces.get(who.toString('hex')) ?? 0) + 1;
    this.nonces.set(who.toString('hex'), n);
    return n;
  }
  deploy(who: Buffer, bytes: Uint8Array, initArgs: Uint8Array = new Uint8Array(0), gasLimit = 5_000_000): ContractResult {
    return this.rt.execute(
      this.state,
      { kind: 'deploy', chainId: 1, sender: who, nonce: this.nonce(who), gasLimit, code: bytes, initArgs, signature: Buffer.alloc(64), id: Buffer.alloc(32), length: 0 },
      block,
    );
  }
  call(who: Buffer, contract: Buffer, method: string, args: Uint8Array = new Uint8Array(0), amount = 0, gasLimit = 1_000_000): ContractResult {
    return this.rt.execute(
      this.state,
      { kind: 'call', chainId: 1, sender: who, nonce: this.nonce(who), gasLimit, contract, method, args, amount, signature: Buffer.alloc(64), id: Buffer.alloc(32), length: 0 },
      block,
    );
  }
  balance(who: Buffer): number {
    return this.state.getBalance(who);
  }
}

function tokenBalance(c: Chain, token: Buffer, who: Buffer): bigint {
  const r = c.call(alice, token, 'balance_of', who);
  expect(r.status).toBe(0);
  return r.output.readBigUInt64LE(0);
}

describe('fungible token (contracts/token.ts)', () => {
  it('mints the supply to the deployer, moves balances, emits events, and reverts a failed transfer', () => {
    const c = new Chain();
    const d = c.deploy(alice, wasm.token!, u64(1000));
    expect(d.status, d.message).toBe(0);
    const token = d.address!;
    expect(tokenBalance(c, token, alice)).toBe(1000n);
    expect(c.call(bob, token, 'total_supply').output.readBigUInt64LE(0)).toBe(1000n);

    const t = c.call(alice, token, 'transfer', Buffer.concat([bob, u64(250)]));
    expect(t.status, t.message).toBe(0);
    expect(t.events).toHaveLength(1);
    expect(t.events[0]!.topic.toString()).toBe('transfer');
    expect(t.events[0]!.data.equals(Buffer.concat([alice, bob, u64(250)]))).toBe(true);
    expect(tokenBalance(c, token, alice)).toBe(750n);
    expect(tokenBalance(c, token, bob)).toBe(250n);

    const over = c.call(bob, token, 'transfer', Buffer.concat([carol, u64(251)]));
    expect(over.status).toBe(RejectCode.CONTRACT_ABORT);
    expect(over.message).toBe('insufficient token balance');
    expect(over.events).toEqual([]);
    expect(tokenBalance(c, token, bob)).toBe(250n);
    expect(tokenBalance(c, token, carol)).toBe(0n);
  });

  it('charges every transaction ceil(gasUsed / 1000), burned from the sender, reverted or not', () => {
    const c = new Chain();
    const before = c.balance(alice);
    const d = c.deploy(alice, wasm.token!, u64(10));
    const t = c.call(alice, d.address!, 'transfer', Buffer.concat([bob, u64(11)]));
    expect(t.status).toBe(RejectCode.CONTRACT_ABORT);
    expect(d.fee).toBe(feeFor(d.gasUsed));
    expect(t.fee).toBe(feeFor(t.gasUsed));
    expect(t.fee).toBeGreaterThan(0);
    expect(c.balance(alice)).toBe(before - d.fee - t.fee);
  });

  it('stores the code once by hash and gives each deploy its own address and storage', () => {
    const c = new Chain();
    const a = c.deploy(alice, wasm.token!, u64(5));
    const b = c.deploy(alice, wasm.token!, u64(7));
    expect(a.address!.equals(b.address!)).toBe(false);
    c.base.apply(c.state.writes());
    expect(c.base.code.size).toBe(1);
    expect(c.base.contracts.size).toBe(2);
    c.state = new StateOverlay(c.base);
    expect(tokenBalance(c, a.address!, alice)).toBe(5n);
    expect(tokenBalance(c, b.address!, alice)).toBe(7n);
  });
});

describe('escrow (contracts/escrow.ts)', () => {
  it('releases the deposit to the payee once both approvers approved, and only then', () => {
    const c = new Chain();
    const payee = carol;
    const d = c.deploy(alice, wasm.escrow!, Buffer.concat([payee, alice, bob]));
    expect(d.status, d.message).toBe(0);
    const escrow = d.address!;
    const dep = c.call(alice, escrow, 'deposit', undefined, 5000);
    expect(dep.status, dep.message).toBe(0);
    expect(c.balance(escrow)).toBe(5000);

    const stranger = c.call(payee, escrow, 'approve');
    expect(stranger.status).toBe(RejectCode.CONTRACT_ABORT);
    expect(stranger.message).toBe('caller is not an approver');

    const payeeBefore = c.balance(payee);
    expect(c.call(alice, escrow, 'approve').status).toBe(0);
    expect(c.balance(escrow)).toBe(5000);
    const last = c.call(bob, escrow, 'approve');
    expect(last.status, last.message).toBe(0);
    expect(last.events.map((e) => e.topic.toString())).toEqual(['approve', 'released']);
    expect(c.balance(escrow)).toBe(0);
    expect(c.balance(payee)).toBe(payeeBefore + 5000);
    expect(c.call(alice, escrow, 'released').output.readBigUInt64LE(0)).toBe(1n);

    // After the release a deposit is refused, and its amount stays with the sender (minus the fee).
    const aliceBefore = c.balance(alice);
    const late = c.call(alice, escrow, 'deposit', undefined, 100);
    expect(late.status).toBe(RejectCode.CONTRACT_ABORT);
    expect(c.balance(alice)).toBe(aliceBefore - late.fee);
    expect(c.balance(escrow)).toBe(0);
  });
});

describe('reverts, limits and refusals', () => {
  function testkit(): { c: Chain; kit: Buffer } {
    const c = new Chain();
    const d = c.deploy(alice, wasm.testkit!);
    expect(d.status, d.message).toBe(0);
    return { c, kit: d.address! };
  }
  const counter = (c: Chain, kit: Buffer): bigint => c.call(alice, kit, 'increment').output.readBigUInt64LE(0) - 1n;

  it('out of gas in a loop without host calls: OUT_OF_GAS, the whole limit charged, the write reverted', () => {
    const { c, kit } = testkit();
    const before = c.balance(alice);
    const r = c.call(alice, kit, 'spin', undefined, 0, 300_000);
    expect(r.status).toBe(RejectCode.OUT_OF_GAS);
    expect(r.gasUsed).toBe(300_000);
    expect(c.balance(alice)).toBe(before - feeFor(300_000));
    expect(counter(c, kit)).toBe(0n);
    const h = c.call(alice, kit, 'write_then_spin', undefined, 0, 300_000);
    expect(h.status).toBe(RejectCode.OUT_OF_GAS);
    expect(counter(c, kit)).toBe(1n); // the increment above, not the reverted write
  });

  it('a trap reverts the call: storage and the amount sent with it', () => {
    const { c, kit } = testkit();
    const before = c.balance(alice);
    const r = c.call(alice, kit, 'write_then_trap', undefined, 700);
    expect(r.status).toBe(RejectCode.CONTRACT_TRAP);
    expect(r.message).toMatch(/unreachable/);
    expect(c.balance(kit)).toBe(0);
    expect(c.balance(alice)).toBe(before - r.fee);
    expect(counter(c, kit)).toBe(0n);
  });

  it('bounds recursion (STACK_OVERFLOW) and memory (memory.grow past 16 pages answers -1)', () => {
    const { c, kit } = testkit();
    expect(c.call(alice, kit, 'recurse', u32(50)).output.readBigUInt64LE(0)).toBe(50n);
    const deep = c.call(alice, kit, 'recurse', u32(1_000_000), 0, 10_000_000);
    expect(deep.status).toBe(RejectCode.STACK_OVERFLOW);
    expect(c.call(alice, kit, 'grow').output.readBigUInt64LE(0)).toBe(0n); // -1 + 1
  });

  it('canonicalises the NaN of 0/0 compiled by AssemblyScript', () => {
    const { c, kit } = testkit();
    const r = c.call(alice, kit, 'nan_bits', u32(0));
    expect(r.status).toBe(0);
    expect(r.output.toString('hex')).toBe('0000c07f');
  });

  it('gives the caller, its own address, and the block height and time', () => {
    const { c, kit } = testkit();
    const r = c.call(bob, kit, 'context');
    expect(r.output.subarray(0, 32).equals(bob)).toBe(true);
    expect(r.output.subarray(32, 64).equals(kit)).toBe(true);
    expect(r.output.readBigUInt64LE(64)).toBe(42n);
    expect(r.output.readBigUInt64LE(72)).toBe(1_800_000_000_123n);
  });

  it('charges gas per loop iteration: the same increment for each added block of iterations', () => {
    const { c, kit } = testkit();
    const g = [0, 1000, 2000, 3000].map((n) => c.call(alice, kit, 'burn', u32(n)).gasUsed);
    expect(g[2]! - g[1]!).toBe(g[1]! - g[0]!);
    expect(g[3]! - g[2]!).toBe(g[1]! - g[0]!);
    expect(g[1]! - g[0]!).toBeGreaterThanOrEqual(1000 * 5);
  });

  it('refuses before running: funds for the fee at the limit, unknown contract, unknown method, init', () => {
    const { c, kit } = testkit();
    const poor = Buffer.alloc(32, 0xee);
    c.base.credit(poor, 999);
    expect(c.call(poor, kit, 'increment', undefined, 0, 1_000_000).status).toBe(RejectCode.INSUFFICIENT_FUNDS); // fee at 1,000,000 gas is 1,000
    expect(c.balance(poor)).toBe(999);
    expect(c.call(alice, Buffer.alloc(32, 9), 'increment').status).toBe(RejectCode.CONTRACT_NOT_FOUND);
    expect(c.call(alice, kit, 'nope').status).toBe(RejectCode.METHOD_NOT_FOUND);
    expect(c.call(alice, kit, 'init').status).toBe(RejectCode.METHOD_NOT_FOUND);
  });

  it('refuses to deploy a module with a forbidden import: nothing stored, validation gas charged', () => {
    const c = new Chain();
    const bad = module(types([[], []], [[], [I32]]), imports(['env', 'random', 1]), funcs(0), memory(1), exports(['memory', 2, 0], ['run', 0, 1]), code([[], []]));
    const before = c.balance(alice);
    const r = c.deploy(alice, bad);
    expect(r.status).toBe(RejectCode.MODULE_INVALID);
    expect(r.message).toMatch(/FORBIDDEN_IMPORT/);
    expect(r.address).toBeUndefined();
    expect(c.state.writes().contracts.size).toBe(0);
    expect(c.state.writes().code.size).toBe(0);
    expect(c.balance(alice)).toBe(before - r.fee);
    expect(r.fee).toBeGreaterThan(0);
  });

  it('runs deploy and call transactions decoded from signed bytes', () => {
    const seed = Buffer.alloc(32, 3);
    const me = Buffer.from(keyPairFromSeed(seed).publicKey);
    const c = new Chain();
    c.base.credit(me, 100_000);
    const d = decodeContractTx(signContractTx({ kind: 'deploy', chainId: 9, sender: me, nonce: 1, gasLimit: 3_000_000, code: wasm.token!, initArgs: u64(77) }, seed), 9);
    const dr = c.rt.execute(c.state, d, block);
    expect(dr.status, dr.message).toBe(0);
    const t = decodeContractTx(
      signContractTx({ kind: 'call', chainId: 9, sender: me, nonce: 2, gasLimit: 1_000_000, contract: dr.address!, method: 'transfer', args: Buffer.concat([bob, u64(7)]) }, seed),
      9,
    );
    expect(c.rt.execute(c.state, t, block).status).toBe(0);
    expect(tokenBalance(c, dr.address!, bob)).toBe(7n);
  });
});

describe('determinism', () => {
  /** A fixed script of deploys and calls; returns everything observable. */
  function script(rt: ContractRuntime): string {
    const c = new Chain();
    (c as { rt: ContractRuntime }).rt = rt;
    const out: unknown[] = [];
    const tok = c.deploy(alice, wasm.token!, u64(1_000_000));
    const kit = c.deploy(bob, wasm.testkit!);
    const esc = c.deploy(carol, wasm.escrow!, Buffer.concat([carol, alice, bob]));
    const steps = [
      tok,
      kit,
      esc,
      c.call(alice, tok.address!, 'transfer', Buffer.concat([bob, u64(123)])),
      c.call(bob, tok.address!, 'transfer', Buffer.concat([carol, u64(23)])),
      c.call(bob, tok.address!, 'transfer', Buffer.concat([carol, u64(1_000)])),
      c.call(alice, kit.address!, 'burn', u32(5000)),
      c.call(alice, kit.address!, 'spin', undefined, 0, 100_000),
      c.call(alice, kit.address!, 'recurse', u32(100_000), 0, 5_000_000),
      c.call(alice, kit.address!, 'nan_bits', u32(0)),
      c.call(alice, esc.address!, 'deposit', undefined, 900),
      c.call(alice, esc.address!, 'approve'),
      c.call(bob, esc.address!, 'approve'),
    ];
    for (const r of steps) out.push([r.status, r.gasUsed, r.fee, r.output.toString('hex'), r.events.map((e) => [e.topic.toString('hex'), e.data.toString('hex')])]);
    const w = c.state.writes();
    const sorted = <T>(m: Map<string, T>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
    out.push(
      sorted(w.balances),
      sorted(w.contracts).map(([k, r]) => [k, r.codeHash.toString('hex')]),
    );
    out.push(sorted(w.storage).map(([k, m]) => [k, sorted(m).map(([kk, v]) => [kk, v ? Buffer.from(v).toString('hex') : null])]));
    return JSON.stringify(out);
  }

  // Re-pinned when cold code started to pay COLD_CODE_PER_BYTE and deploys 150 per byte (gas and fees moved on purpose).
  const SCRIPT_DIGEST = '9de92c007a425f815e5522dd3a7faa05ae46d508ceed0264daf2746b90cbe868';

  it('gives the same statuses, gas, events and storage writes across fresh and warm runtimes', () => {
    const warm = new ContractRuntime();
    const first = script(warm);
    expect(script(new ContractRuntime())).toBe(first);
    expect(script(warm)).toBe(first); // compiled modules cached
    expect(first).toContain(`[${RejectCode.OUT_OF_GAS},100000`);
    expect(first).toContain(`[${RejectCode.STACK_OVERFLOW},`);
    // Pinned before the overlay's keys and the compile cache's key changed: results did not.
    expect(createHash('sha256').update(first).digest('hex')).toBe(SCRIPT_DIGEST);
  });
});

describe('cold code: the first call of a code in a block pays for its compile', () => {
  it('charges COLD_CODE_PER_BYTE once per code and block, and a deploy warms its code', () => {
    const c = new Chain();
    const at = (height: number): BlockContext => ({ height, timeMs: 0, warm: new WarmCode() });
    const b1 = at(1);
    const d = c.rt.deploy(c.state, alice, 1, wasm.token!, u64(1_000), 5_000_000, b1);
    expect(d.status, d.message).toBe(0);
    const send = (b: BlockContext, gasLimit = 1_000_000) =>
      c.rt.call(c.state, { sender: alice, contract: d.address!, method: 'transfer', args: Buffer.concat([bob, u64(1)]), amount: 0, gasLimit }, b);
    const surcharge = wasm.token!.length * Gas.COLD_CODE_PER_BYTE;
    const afterDeploy = send(b1);
    expect(afterDeploy.status).toBe(0);
    expect(afterDeploy.gasUsed).toBeLessThan(surcharge);
    const b2 = at(2);
    const cold = send(b2);
    const warm = send(b2);
    expect([cold.status, warm.status]).toEqual([0, 0]);
    expect(cold.gasUsed - warm.gasUsed).toBe(surcharge);
    // Every node charges the same, whatever its compile cache holds: a fresh runtime agrees.
    const fresh = new ContractRuntime().call(
      c.state,
      { sender: alice, contract: d.address!, method: 'transfer', args: Buffer.concat([bob, u64(1)]), amount: 0, gasLimit: 1_000_000 },
      at(3),
    );
    expect(fresh.gasUsed).toBe(cold.gasUsed);
  });

  it('refuses a cold call that cannot pay for the compile before compiling anything', () => {
    const c = new Chain();
    const d = c.deploy(alice, wasm.token!, u64(1_000));
    expect(d.status, d.message).toBe(0);
    const rt = new ContractRuntime();
    const gasLimit = wasm.token!.length * (Gas.PER_CODE_BYTE + Gas.COLD_CODE_PER_BYTE) - 1;
    const r = rt.call(
      c.state,
      { sender: alice, contract: d.address!, method: 'transfer', args: Buffer.concat([bob, u64(1)]), amount: 0, gasLimit },
      { height: 1, timeMs: 0, warm: new WarmCode() },
    );
    expect(r.status).toBe(RejectCode.OUT_OF_GAS);
    expect(r.gasUsed).toBe(gasLimit);
    expect(rt.compiledModules).toBe(0);
  });
});
