/**
 * Contract transactions in blocks, end to end through Ledger.apply: real LMDB in a temp dir, real
 * shard workers, the real AssemblyScript token / escrow / testkit modules (contracts/build.mjs).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { feeFor, MAX_TX_GAS } from '../../src/contracts/limits.js';
import { MAX_COMPILED_MODULES, ContractRuntime } from '../../src/contracts/runtime.js';
import { contractAddress, MemoryContractState, StateOverlay } from '../../src/contracts/state.js';
import type { KeyPair } from '../../src/crypto/keys.js';
import { RejectCode } from '../../src/errors.js';
import { Ledger } from '../../src/execution/ledger.js';
import { replayChain } from '../../src/execution/replay.js';
import { accountLeaf, addInto, codeLeaf, contractLeaf, rootToBuffer, storageLeaf, ZERO_ROOT } from '../../src/execution/state-root.js';
import type { ContractReceipt } from '../../src/storage/contract-records.js';
import { decodeAccount } from '../../src/storage/records.js';
import { signContractTx } from '../../src/tx/contract-tx.js';
import { frameTxs, txIdAt, verifyFramed } from '../../src/tx/frames.js';
import { TX_ID_SIZE } from '../../src/tx/layout.js';
import { signTransfer } from '../../src/tx/sign.js';
import { code, exports, funcs, I32, imports, memory, module, types, withRun } from '../contracts/wasm-builder.js';
import { devnetKeys, tempDir } from '../support/fixtures.js';

const CHAIN = 21;
const keys = devnetKeys(CHAIN, 8);
const pk = (i: number): Buffer => Buffer.from(keys[i]!.publicKey);
const GENESIS_BALANCE = 10_000_000;
const POOR = 7;
const genesis = keys.map((k, i) => ({ publicKey: Buffer.from(k.publicKey), balance: i === POOR ? 1_500 : GENESIS_BALANCE }));
const SUPPLY = genesis.reduce((s, g) => s + g.balance, 0);

const wasm: Record<string, Buffer> = {};
const dirs: { remove(): void }[] = [];
beforeAll(() => {
  execFileSync(process.execPath, ['contracts/build.mjs'], { stdio: 'inherit', timeout: 120_000 });
  for (const n of ['token', 'escrow', 'testkit']) wasm[n] = readFileSync(`dist/contracts/${n}.wasm`);
}, 150_000);
afterAll(() => dirs.forEach((d) => d.remove()));

const u64 = (n: number): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};
/** A module importing env.random: deploy-time validation refuses it. */
const forbidden = (): Uint8Array =>
  module(types([[], []], [[], [I32]]), imports(['env', 'random', 1]), funcs(0), memory(1), exports(['memory', 2, 0], ['run', 0, 1]), code([[], []]));

/** Signs transactions with per-sender nonces, as a client would. */
class Signer {
  private readonly nonces = new Map<number, number>();
  next(i: number): number {
    const n = (this.nonces.get(i) ?? 0) + 1;
    this.nonces.set(i, n);
    return n;
  }
  /** Re-uses a nonce the chain did not consume. */
  rewind(i: number): void {
    this.nonces.set(i, this.nonces.get(i)! - 1);
  }
  transfer(from: number, to: number, amount: number): Buffer {
    return signTransfer({ chainId: CHAIN, sender: pk(from), recipient: pk(to), amount, nonce: this.next(from) }, (keys[from] as KeyPair).seed);
  }
  deploy(from: number, bytes: Uint8Array, initArgs: Uint8Array = Buffer.alloc(0), gasLimit = 5_000_000): { tx: Buffer; address: Buffer } {
    const nonce = this.next(from);
    return {
      tx: signContractTx({ kind: 'deploy', chainId: CHAIN, sender: pk(from), nonce, gasLimit, code: bytes, initArgs }, keys[from]!.seed),
      address: contractAddress(pk(from), nonce),
    };
  }
  call(from: number, contract: Buffer, method: string, args: Uint8Array = Buffer.alloc(0), amount = 0, gasLimit = 1_000_000, nonce = this.next(from)): Buffer {
    return signContractTx({ kind: 'call', chainId: CHAIN, sender: pk(from), nonce, gasLimit, contract, method, args, amount }, keys[from]!.seed);
  }
}

function blockOf(list: Buffer[], timestamp: number, round: number) {
  const txs = Buffer.concat(list);
  const f = frameTxs(txs)!;
  const ids = Buffer.alloc(f.count * TX_ID_SIZE);
  for (let i = 0; i < f.count; i++) txIdAt(txs, f.offsets[i]!, f.offsets[i + 1]! - f.offsets[i]!).copy(ids, i * TX_ID_SIZE);
  return { txs, count: f.count, verified: verifyFramed(txs, f.count), ids, timestamp, round };
}

interface Script {
  blocks: ReturnType<typeof blockOf>[];
  /** Named positions: [block, index]. */
  at: Record<string, [number, number]>;
  token: Buffer;
  escrow: Buffer;
  kit: Buffer;
}

/** Three blocks mixing transfers, deploys and calls, with every outcome the lane knows. */
function script(): Script {
  const s = new Signer();
  const at: Script['at'] = {};
  const b: Buffer[][] = [[], [], []];
  const put = (block: number, name: string | undefined, tx: Buffer): void => {
    if (name) at[name] = [block, b[block]!.length];
    b[block]!.push(tx);
  };
  put(0, 'xfer0', s.transfer(0, 6, 1_000));
  const token = s.deploy(0, wasm.token!, u64(1_000));
  const escrow = s.deploy(1, wasm.escrow!, Buffer.concat([pk(5), pk(1), pk(2)]));
  const kit = s.deploy(3, wasm.testkit!);
  put(0, 'token', token.tx);
  put(0, undefined, s.transfer(2, 4, 50));
  put(0, 'escrow', escrow.tx);
  put(0, 'kit', kit.tx);
  put(0, 'forbidden', s.deploy(4, forbidden()).tx);
  // Block 1: one sender's transfers and calls interleaved, reverts, the escrow released.
  put(1, 'a0', s.transfer(0, 6, 10));
  put(1, 'tokenXfer', s.call(0, token.address, 'transfer', Buffer.concat([pk(2), u64(300)])));
  put(1, 'a2', s.transfer(0, 6, 20));
  put(1, 'deposit', s.call(1, escrow.address, 'deposit', Buffer.alloc(0), 5_000));
  put(1, 'approveA', s.call(1, escrow.address, 'approve'));
  put(1, 'approveB', s.call(2, escrow.address, 'approve'));
  put(1, 'spin', s.call(3, kit.address, 'spin', Buffer.alloc(0), 0, 300_000));
  put(1, 'trap', s.call(3, kit.address, 'write_then_trap', Buffer.alloc(0), 700));
  put(1, 'inc', s.call(3, kit.address, 'increment'));
  put(1, 'overdraw', s.call(0, token.address, 'transfer', Buffer.concat([pk(2), u64(5_000)])));
  // Block 2: a nonce replay, a missing contract, a reservation the sender cannot cover.
  put(2, 'replayNonce', s.call(3, kit.address, 'increment', Buffer.alloc(0), 0, 1_000_000, 1));
  put(2, 'missing', s.call(4, Buffer.alloc(32, 9), 'anything'));
  put(2, 'poor', s.call(POOR, kit.address, 'increment', Buffer.alloc(0), 0, 2_000_000)); // fee at the limit: 2,000 > 1,500
  s.rewind(POOR);
  put(2, 'poorRetry', s.call(POOR, kit.address, 'increment', Buffer.alloc(0), 0, 1_000_000));
  put(2, 'inc2', s.call(3, kit.address, 'increment'));
  const blocks = b.map((list, i) => blockOf(list, 1_800_000_000_000 + i * 1000, i + 1));
  return { blocks, at, token: token.address, escrow: escrow.address, kit: kit.address };
}

interface Run {
  statuses: number[][];
  roots: string[];
  receipts: { index: number; txId: string; receipt: ContractReceipt }[][];
  balances: number[];
  contracts: Record<string, unknown>;
  burned: number;
}

async function open(path: string, shards: number): Promise<Ledger> {
  return Ledger.open({ path, mapSizeMb: 256, cacheSizeMb: 1, chainId: CHAIN, shards, genesis });
}

/** Applies the blocks back to back (block n+1 executes while n commits), then reads everything back. */
async function run(sc: Script, shards: number): Promise<{ run: Run; ledger: Ledger; path: string }> {
  const dir = tempDir();
  dirs.push(dir);
  const ledger = await open(dir.path, shards);
  const statuses: number[][] = [];
  const roots: string[] = [];
  const durables: Promise<void>[] = [];
  for (const b of sc.blocks) {
    const a = await ledger.apply(b);
    statuses.push([...a.statuses]);
    roots.push(a.header.stateRoot.toString('hex'));
    durables.push(a.durable);
  }
  await Promise.all(durables);
  ledger.store.refresh();
  return { run: snapshot(ledger, sc, statuses, roots), ledger, path: dir.path };
}

function snapshot(ledger: Ledger, sc: Script, statuses: number[][], roots: string[]): Run {
  const store = ledger.store;
  const receipts = sc.blocks.map((_, i) => store.getBlockReceipts(i + 1).map((r) => ({ ...r, txId: r.txId.toString('hex') })));
  const contracts: Record<string, unknown> = {};
  for (const [name, a] of [
    ['token', sc.token],
    ['escrow', sc.escrow],
    ['kit', sc.kit],
  ] as const) {
    contracts[name] = { record: store.getContract(a), b2: store.getContractStorage(a, Buffer.concat([Buffer.from('b'), pk(2)])) };
  }
  return { statuses, roots, receipts, balances: keys.map((_, i) => store.getAccount(pk(i))?.balance ?? -1), contracts, burned: store.feesBurned() };
}

/** The state root recomputed from what LMDB holds: accounts, code, contract records, storage. */
function rootFromStore(ledger: Ledger): string {
  const store = ledger.store;
  const root = ZERO_ROOT();
  for (const { key, value } of store.accounts.getRange({})) {
    const a = decodeAccount(value);
    addInto(root, accountLeaf(key, a.balance, a.nonce));
  }
  for (const { key } of store.contractCode.getRange({})) addInto(root, codeLeaf(key));
  for (const { address, contract: c } of store.allContracts()) addInto(root, contractLeaf(address, c.codeHash, c.deployer, c.balance));
  for (const { key, value } of store.contractStorage.getRange({})) {
    expect(key[32]).toBe(0); // the test's keys are short: stored inline
    addInto(root, storageLeaf(key.subarray(0, 32), key.subarray(33), value));
  }
  return rootToBuffer(root).toString('hex');
}

const receiptAt = (r: Run, sc: Script, name: string): ContractReceipt => {
  const [b, i] = sc.at[name]!;
  const found = r.receipts[b]!.find((x) => x.index === i);
  if (!found) throw new Error(`no receipt for ${name}`);
  return found.receipt;
};
const statusAt = (r: Run, sc: Script, name: string): number => r.statuses[sc.at[name]![0]]![sc.at[name]![1]]!;

describe('contract transactions in blocks (Ledger, LMDB, shard workers)', () => {
  it('a block of transfers, deploys and calls: same statuses, receipts, balances and state roots on 1, 2 and 4 shards; reverts burn the fee and keep the nonce; reopen and replay agree', async () => {
    const sc = script();
    const one = await run(sc, 1);
    const r = one.run;

    // Nonce order across one sender's transfers and calls in one block; every contract tx included.
    for (const n of [
      'xfer0',
      'token',
      'escrow',
      'kit',
      'forbidden',
      'a0',
      'tokenXfer',
      'a2',
      'deposit',
      'approveA',
      'approveB',
      'spin',
      'trap',
      'inc',
      'overdraw',
      'missing',
      'poorRetry',
      'inc2',
    ]) {
      expect(statusAt(r, sc, n), n).toBe(0);
    }
    expect(statusAt(r, sc, 'replayNonce')).toBe(RejectCode.NONCE_MISMATCH);
    expect(statusAt(r, sc, 'poor')).toBe(RejectCode.INSUFFICIENT_FUNDS);

    // Receipts: deploys, the forbidden import, the reverts.
    expect(receiptAt(r, sc, 'token').address?.equals(sc.token)).toBe(true);
    const bad = receiptAt(r, sc, 'forbidden');
    expect(bad.status).toBe(RejectCode.MODULE_INVALID);
    expect(bad.message).toMatch(/FORBIDDEN_IMPORT/);
    expect(bad.fee).toBeGreaterThan(0);
    const spin = receiptAt(r, sc, 'spin');
    expect(spin.status).toBe(RejectCode.OUT_OF_GAS);
    expect(spin.gasUsed).toBe(300_000);
    expect(spin.fee).toBe(feeFor(300_000));
    const trap = receiptAt(r, sc, 'trap');
    expect(trap.status).toBe(RejectCode.CONTRACT_TRAP);
    expect(receiptAt(r, sc, 'overdraw').status).toBe(RejectCode.CONTRACT_ABORT);
    expect(receiptAt(r, sc, 'missing').status).toBe(RejectCode.CONTRACT_NOT_FOUND);
    expect(receiptAt(r, sc, 'missing').fee).toBe(0);
    expect(receiptAt(r, sc, 'tokenXfer').events.map((e) => e.topic.toString())).toEqual(['transfer']);
    expect(receiptAt(r, sc, 'approveB').events.map((e) => e.topic.toString())).toEqual(['approve', 'released']);
    const inc2 = receiptAt(r, sc, 'inc2');
    expect(inc2.output.readBigUInt64LE(0)).toBe(3n); // inc, poorRetry, inc2: the trap's write reverted
    // The same receipt by tx id.
    const [b2, i2] = sc.at.inc2!;
    expect(one.ledger.store.getReceipt(Buffer.from(r.receipts[b2]!.find((x) => x.index === i2)!.txId, 'hex'))?.output.equals(inc2.output)).toBe(true);

    // Balances: a revert takes only the fee; the escrow's release is a credit to the payee.
    const fees = (b: number, sender: number) => r.receipts[b]!.filter((x) => senderOf(sc, b, x.index) === sender).reduce((s, x) => s + x.receipt.fee, 0);
    expect(r.balances[3]).toBe(GENESIS_BALANCE - fees(0, 3) - fees(1, 3) - fees(2, 3));
    // Nonces: the reverted spin and trap consumed theirs (deploy, spin, trap, inc, inc2).
    expect(one.ledger.store.getAccount(pk(3))?.nonce).toBe(5);
    expect(one.ledger.store.getAccount(pk(0))?.nonce).toBe(6);
    expect(r.balances[5]).toBe(GENESIS_BALANCE + 5_000);
    expect(r.balances[1]).toBe(GENESIS_BALANCE - 5_000 - fees(0, 1) - fees(1, 1));
    expect(r.balances[0]).toBe(GENESIS_BALANCE - 1_030 - fees(0, 0) - fees(1, 0));
    expect(r.balances[POOR]).toBe(1_500 - receiptAt(r, sc, 'poorRetry').fee);
    expect((r.contracts.kit as { record: { balance: number } }).record.balance).toBe(0);
    expect((r.contracts.escrow as { record: { balance: number } }).record.balance).toBe(0);
    expect((r.contracts.token as { b2: Buffer }).b2).toEqual(u64(300));
    // Supply: native balances + contract balances + burned fees = genesis.
    const allFees = r.receipts.flat().reduce((s, x) => s + x.receipt.fee, 0);
    expect(r.burned).toBe(allFees);
    expect(r.balances.reduce((s, b) => s + b, 0) + r.burned).toBe(SUPPLY);
    // The root covers exactly what LMDB holds, contract state included.
    expect(rootFromStore(one.ledger)).toBe(r.roots[2]);

    for (const shards of [2, 4]) {
      const other = await run(sc, shards);
      expect(other.run, `${shards} shards`).toEqual(r);
      await other.ledger.close();
    }

    // Replay from genesis, then a reopened ledger: same root, same contract state, and it goes on.
    const report = replayChain(one.ledger.store, CHAIN, genesis);
    expect(report.problems).toEqual([]);
    expect(report.stateRoot.toString('hex')).toBe(r.roots[2]);
    expect(report.contracts).toBe(3);
    expect(report.feesBurned).toBe(allFees);
    await one.ledger.close();
    const reopened = await open(one.path, 2);
    expect(reopened.tip.stateRoot.toString('hex')).toBe(r.roots[2]);
    expect(snapshot(reopened, sc, r.statuses, r.roots)).toEqual(r);
    // Sender 0 used nonces 1 to 6 (three transfers, the token's deploy, two token calls).
    const next = await reopened.apply(blockOf([new Signer().call(0, sc.token, 'balance_of', pk(2), 0, 1_000_000, 7)], 1_800_000_010_000, 4));
    await next.durable;
    reopened.store.refresh();
    expect(next.statuses[0]).toBe(0);
    expect(reopened.store.getBlockReceipts(4)[0]!.receipt.output).toEqual(u64(300));
    expect(rootFromStore(reopened)).toBe(reopened.tip.stateRoot.toString('hex'));
    expect(replayChain(reopened.store, CHAIN, genesis).problems).toEqual([]);
    await reopened.close();
  }, 120_000);

  it('block gas limit: contract transactions past the sum of limits get BLOCK_GAS_EXCEEDED and keep their nonce', async () => {
    const dir = tempDir();
    dirs.push(dir);
    const ledger = await open(dir.path, 2);
    const s = new Signer();
    const kit = s.deploy(3, wasm.testkit!);
    await (await ledger.apply(blockOf([kit.tx], 1_800_000_000_000, 1))).durable;
    // Four calls at MAX_TX_GAS fill BLOCK_GAS_LIMIT; the fifth does not fit, nor does a tiny one after it.
    const list = [0, 1, 2, 4].map((k) => s.call(k, kit.address, 'increment', Buffer.alloc(0), 0, MAX_TX_GAS));
    list.push(s.call(5, kit.address, 'increment', Buffer.alloc(0), 0, MAX_TX_GAS));
    list.push(s.call(6, kit.address, 'increment', Buffer.alloc(0), 0, 1));
    list.push(s.transfer(6, 0, 5)); // nonce 2 of a sender whose nonce 1 did not count
    list.push(s.transfer(1, 0, 5)); // transfers are not bounded by block gas
    const a = await ledger.apply(blockOf(list, 1_800_000_001_000, 2));
    await a.durable;
    expect([...a.statuses]).toEqual([0, 0, 0, 0, RejectCode.BLOCK_GAS_EXCEEDED, RejectCode.BLOCK_GAS_EXCEEDED, RejectCode.NONCE_GAP, 0]);
    ledger.store.refresh();
    expect(ledger.store.getAccount(pk(5))?.nonce).toBe(0);
    // The nonce was not consumed: the sender's next transaction uses it again.
    const b = await ledger.apply(blockOf([s.call(5, kit.address, 'increment', Buffer.alloc(0), 0, 1_000_000, 1)], 1_800_000_002_000, 3));
    await b.durable;
    expect(b.statuses[0]).toBe(0);
    ledger.store.refresh();
    expect(ledger.store.getBlockReceipts(3)[0]!.receipt.output).toEqual(u64(5));
    expect(replayChain(ledger.store, CHAIN, genesis).problems).toEqual([]);
    await ledger.close();
  }, 60_000);
});

/**
 * Pinned results of a token-heavy chain: the digest was computed before the lane's speed-ups
 * (overlay keys, per-block reads, calls read in place), so any change to a status, gas figure,
 * receipt, balance or root fails here, not only a difference between shard counts.
 */
describe('contract lane results are pinned', () => {
  // Re-pinned when cold code started to pay COLD_CODE_PER_BYTE and deploys 150 per byte: the first
  // token call of each block pays for the compile, so gas, fees, balances and roots moved on purpose.
  const PINNED = '0ccc16e7edee7213a5fc8eb7cb4063fbea46dc3a6fd57e06c4767668a9fd581e';

  it('token, escrow and testkit calls over four blocks applied back to back give the pinned statuses, receipts, balances and roots', async () => {
    const s = new Signer();
    const token = s.deploy(0, wasm.token!, u64(1_000_000));
    const token2 = s.deploy(1, wasm.token!, u64(77)); // same code: stored once, compiled once
    const escrow = s.deploy(2, wasm.escrow!, Buffer.concat([pk(5), pk(2), pk(3)]));
    const kit = s.deploy(3, wasm.testkit!);
    const xfer = (from: number, to: number, amount: number, value = 0) => s.call(from, token.address, 'transfer', Buffer.concat([pk(to), u64(amount)]), value, 400_000);
    const blocks: Buffer[][] = [[token.tx, token2.tx, escrow.tx, kit.tx, s.transfer(4, 5, 9)]];
    // Distribution, and recipients spending in the same block what an earlier call gave them.
    const b1: Buffer[] = [];
    for (let to = 1; to < 7; to++) b1.push(xfer(0, to, 1_000 * to));
    for (let from = 1; from < 7; from++) b1.push(xfer(from, (from % 6) + 1, 100 + from));
    b1.push(xfer(1, 2, 10_000_000)); // overdraw: aborts, reverts
    b1.push(s.call(3, kit.address, 'increment'), s.call(3, kit.address, 'increment'), s.call(4, kit.address, 'write_then_trap', Buffer.alloc(0), 300));
    b1.push(s.call(2, escrow.address, 'deposit', Buffer.alloc(0), 4_000), s.transfer(6, 0, 1));
    blocks.push(b1);
    // Cycles over the same keys, a call with a value the token keeps, the escrow paying out.
    const b2: Buffer[] = [];
    for (let r = 0; r < 3; r++) for (let from = 0; from < 7; from++) b2.push(xfer(from, (from + r + 1) % 7, 1 + r + from, r === 1 && from === 5 ? 250 : 0));
    b2.push(s.call(2, escrow.address, 'approve'), s.call(3, escrow.address, 'approve'));
    b2.push(s.call(5, token2.address, 'transfer', Buffer.concat([pk(0), u64(1)]), 0, 400_000)); // 5 holds none: aborts
    b2.push(s.call(1, token2.address, 'transfer', Buffer.concat([pk(5), u64(70)]), 0, 400_000));
    b2.push(s.call(3, kit.address, 'spin', Buffer.alloc(0), 0, 150_000), s.call(3, kit.address, 'increment'));
    blocks.push(b2);
    blocks.push([xfer(2, 0, 5), s.call(4, Buffer.alloc(32, 7), 'gone'), s.call(3, kit.address, 'increment'), xfer(6, 1, 3)]);

    const dir = tempDir();
    dirs.push(dir);
    const ledger = await open(dir.path, 1);
    const statuses: number[][] = [];
    const roots: string[] = [];
    const durables: Promise<void>[] = [];
    for (let i = 0; i < blocks.length; i++) {
      const a = await ledger.apply(blockOf(blocks[i]!, 1_800_000_000_000 + i * 1000, i + 1));
      statuses.push([...a.statuses]);
      roots.push(a.header.stateRoot.toString('hex'));
      durables.push(a.durable);
    }
    await Promise.all(durables);
    ledger.store.refresh();
    const receipts = blocks.map((_, i) => ledger.store.getBlockReceipts(i + 1));
    const ok = receipts.flat().filter((r) => r.receipt.status === 0).length;
    expect(ok).toBeGreaterThan(40);
    expect(receipts.flat().length - ok).toBeGreaterThanOrEqual(5); // reverts of several kinds
    const result = JSON.stringify({
      statuses,
      roots,
      receipts,
      balances: keys.map((_, i) => ledger.store.getAccount(pk(i))),
      burned: ledger.store.feesBurned(),
      storage: [0, 1, 2, 3, 4, 5, 6].map((i) => ledger.store.getContractStorage(token.address, Buffer.concat([Buffer.from('b'), pk(i)]))?.toString('hex')),
    });
    expect(rootFromStore(ledger)).toBe(roots[roots.length - 1]);
    expect(createHash('sha256').update(result).digest('hex')).toBe(PINNED);
    await ledger.close();
  }, 60_000);
});

function senderOf(sc: Script, block: number, index: number): number {
  const { txs } = sc.blocks[block]!;
  const f = frameTxs(txs)!;
  const o = f.offsets[index]!;
  const key = txs.subarray(o + 12, o + 44); // contract tx: sender at byte 12
  return keys.findIndex((k) => Buffer.from(k.publicKey).equals(key));
}

describe('ContractRuntime compiled-module cache', () => {
  it('keeps at most MAX_COMPILED_MODULES, least recently used out first, and an evicted module still runs', () => {
    const rt = new ContractRuntime();
    const base = new MemoryContractState();
    const me = Buffer.alloc(32, 0xa1);
    base.credit(me, 10_000_000);
    const state = new StateOverlay(base);
    const block = { height: 1, timeMs: 0 };
    const addresses: Buffer[] = [];
    for (let i = 0; i < MAX_COMPILED_MODULES + 6; i++) {
      // i32.const i; drop: distinct code, so a distinct cache entry each.
      const r = rt.deploy(state, me, i + 1, withRun([0x41, i & 0x3f, 0x1a, 0x41, i >> 6, 0x1a]), new Uint8Array(0), 1_000_000, block);
      expect(r.status, r.message).toBe(0);
      addresses.push(r.address!);
      expect(rt.compiledModules).toBe(Math.min(i + 1, MAX_COMPILED_MODULES));
    }
    const first = rt.call(state, { sender: me, contract: addresses[0]!, method: 'run', args: new Uint8Array(0), amount: 0, gasLimit: 1_000_000 }, block);
    expect(first.status, first.message).toBe(0);
    expect(rt.compiledModules).toBe(MAX_COMPILED_MODULES);
  });
});
