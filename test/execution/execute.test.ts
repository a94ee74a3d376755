import { describe, it, expect } from 'vitest';
import { AccountState } from '../../src/execution/account-state.js';
import { executeBlock } from '../../src/execution/execute-block.js';
import { accountLeaf, addInto, rootToBuffer, ZERO_ROOT } from '../../src/execution/state-root.js';
import { RejectCode } from '../../src/errors.js';
import { encodeUnsigned } from '../../src/tx/transaction.js';
import { TX_SIZE } from '../../src/tx/layout.js';
import { devnetKeys } from '../support/fixtures.js';

const CHAIN = 3;
const keys = devnetKeys(CHAIN, 40).map((k) => Buffer.from(k.publicKey));

/** Execution trusts the verify stage's bits, so unsigned bodies are enough here. */
function block(specs: { from: number; to: number; amount: number; nonce: number }[]): Buffer {
  const out = Buffer.alloc(specs.length * TX_SIZE);
  specs.forEach((s, i) => encodeUnsigned({ chainId: CHAIN, sender: keys[s.from]!, recipient: keys[s.to]!, amount: s.amount, nonce: s.nonce }, out, i * TX_SIZE));
  return out;
}

function freshState(balances: Map<number, number>): AccountState {
  const state = new AccountState({ getAccount: () => undefined }, ZERO_ROOT(), 1_000_000);
  const touched = [...balances].map(([i, b]) => {
    const a = state.getOrCreate(keys[i]!);
    a.balance = b;
    return a;
  });
  state.commitLeaves(touched, 0, state.root);
  return state;
}

function snapshot(state: AccountState) {
  return [...state.entries()].map((a) => `${a.key.toString('hex')}:${a.balance}:${a.nonce}`).sort();
}

/** A seeded workload with valid transfers, replays, gaps, overdrafts and bad signatures. */
function workload(seed: number, n: number) {
  let x = seed >>> 0;
  const rnd = (m: number) => (x = (Math.imul(x, 1664525) + 1013904223) >>> 0) % m;
  const nonce = new Map<number, number>();
  const specs: { from: number; to: number; amount: number; nonce: number }[] = [];
  for (let i = 0; i < n; i++) {
    const from = rnd(30);
    let to = rnd(40);
    if (to === from) to = (to + 1) % 40;
    const next = (nonce.get(from) ?? 0) + 1;
    const r = rnd(20);
    const nn = r === 0 ? next - 1 : r === 1 ? next + 1 : next; // replays and gaps
    if (nn === next) nonce.set(from, next);
    specs.push({ from, to, amount: 1 + rnd(r === 2 ? 5000 : 300), nonce: Math.max(1, nn) });
  }
  const verified = new Uint8Array(n);
  for (let i = 0; i < n; i++) if (rnd(50) === 0) verified[i] = RejectCode.BAD_SIGNATURE;
  return { txs: block(specs), verified, count: n };
}

describe('executeBlock', () => {
  const genesis = new Map(Array.from({ length: 30 }, (_, i) => [i, 2_000] as [number, number]));

  it('gives identical statuses, balances, nonces and state root for 1, 2, 3, 4 and 8 shards', () => {
    const results = [1, 2, 3, 4, 8].map((shards) => {
      const state = freshState(genesis);
      const statuses: string[] = [];
      for (let h = 1; h <= 5; h++) {
        const w = workload(1000 + h, 400);
        const out = executeBlock(state, { height: h, chainId: CHAIN, ...w }, shards);
        statuses.push(Buffer.from(out.statuses).toString('hex'));
      }
      return { statuses, accounts: snapshot(state), root: rootToBuffer(state.root).toString('hex') };
    });
    for (const r of results.slice(1)) expect(r).toEqual(results[0]);
    // The workload really exercised rejections as well as commits.
    const all = results[0]!.statuses.join('');
    expect(all).toMatch(/00/);
    expect(all).toContain(RejectCode.BAD_SIGNATURE.toString(16).padStart(2, '0'));
    expect(all).toContain(RejectCode.INSUFFICIENT_FUNDS.toString(16).padStart(2, '0'));
  });

  it('keeps the incremental state root equal to a from-scratch sum over all accounts', () => {
    const state = freshState(genesis);
    for (let h = 1; h <= 3; h++) executeBlock(state, { height: h, chainId: CHAIN, ...workload(7 + h, 300) }, 2);
    const scratch = ZERO_ROOT();
    for (const a of state.entries()) addInto(scratch, accountLeaf(a.key, a.balance, a.nonce));
    expect(rootToBuffer(state.root).equals(rootToBuffer(scratch))).toBe(true);
  });

  it('conserves supply', () => {
    const state = freshState(genesis);
    executeBlock(state, { height: 1, chainId: CHAIN, ...workload(99, 500) }, 4);
    const total = [...state.entries()].reduce((s, a) => s + a.balance, 0);
    expect(total).toBe(30 * 2_000);
  });

  it('checks debits against the balance at block start minus earlier debits; credits land after', () => {
    const state = freshState(
      new Map([
        [0, 100],
        [1, 0],
      ]),
    );
    const txs = block([
      { from: 0, to: 1, amount: 60, nonce: 1 }, // ok: 100 -> 40
      { from: 1, to: 2, amount: 10, nonce: 1 }, // 1 received 60 in this block but cannot spend it yet
      { from: 0, to: 2, amount: 50, nonce: 2 }, // 40 left: overdraft
      { from: 0, to: 2, amount: 40, nonce: 3 }, // nonce 2 was not consumed: mismatch... gap after a rejection
    ]);
    const out = executeBlock(state, { height: 1, chainId: CHAIN, txs, count: 4, verified: new Uint8Array(4) }, 2);
    expect([...out.statuses]).toEqual([0, RejectCode.INSUFFICIENT_FUNDS, RejectCode.INSUFFICIENT_FUNDS, RejectCode.NONCE_GAP]);
    const bal = (i: number) => state.get(keys[i]!)?.balance;
    expect([bal(0), bal(1), bal(2)]).toEqual([40, 60, undefined]);
    expect(out.committed).toBe(1);
  });

  it('rejects unknown senders, bad signatures, wrong nonces and wrong chain individually; the rest commits', () => {
    const state = freshState(new Map([[0, 100]]));
    const txs = block([
      { from: 5, to: 0, amount: 1, nonce: 1 }, // unknown sender
      { from: 0, to: 1, amount: 1, nonce: 1 }, // bad signature (verify bit)
      { from: 0, to: 1, amount: 1, nonce: 3 }, // wrong nonce
      { from: 0, to: 1, amount: 7, nonce: 1 }, // ok
    ]);
    txs.writeUInt32LE(CHAIN + 1, TX_SIZE * 0 + 4);
    const verified = Uint8Array.from([0, RejectCode.BAD_SIGNATURE, 0, 0]);
    const out = executeBlock(state, { height: 1, chainId: CHAIN, txs, count: 4, verified }, 1);
    expect([...out.statuses]).toEqual([RejectCode.WRONG_CHAIN, RejectCode.BAD_SIGNATURE, RejectCode.NONCE_MISMATCH, 0]);
    expect(state.get(keys[1]!)?.balance).toBe(7);
  });
});

describe('AccountState cache', () => {
  it('finds every account, colliding hashes included, and evicts only what is visible in the store', () => {
    const stored = new Map<string, { balance: number; nonce: number }>();
    const state = new AccountState({ getAccount: (k) => stored.get(Buffer.from(k).toString('hex')) }, ZERO_ROOT(), 1024);
    // Keys that share their first 8 bytes land in one chain whatever the seed.
    const many = Array.from({ length: 3_000 }, (_, i) => {
      const k = Buffer.alloc(32, 7);
      k.writeUInt32LE(i % 2 === 0 ? i : 1, 0);
      k.writeUInt32LE(i, 28);
      return k;
    });
    many.forEach((k, i) => {
      const a = state.getOrCreate(k);
      a.balance = i;
      a.height = i < 1_500 ? 1 : 2;
    });
    expect(state.size).toBe(3_000);
    many.forEach((k, i) => expect(state.get(k)?.balance).toBe(i));
    // Block 1 visible: its accounts may go (their values are in the store), block 2's may not.
    for (const [i, k] of many.entries()) if (i < 1_500) stored.set(k.toString('hex'), { balance: i, nonce: 0 });
    state.markVisible(1);
    expect(state.size).toBe(1_500);
    const misses = state.misses;
    many.forEach((k, i) => expect(state.get(k)?.balance).toBe(i));
    expect(state.misses - misses).toBe(1_500);
  });
});
