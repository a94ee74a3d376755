import { describe, it, expect, afterAll } from 'vitest';
import { headerHash } from '../../src/chain/block-header.js';
import { genesisAccounts } from '../../src/chain/genesis.js';
import type { Config } from '../../src/config/schema.js';
import { Ledger } from '../../src/execution/ledger.js';
import type { ChainTip, LedgerStore } from '../../src/storage/ledger-store.js';
import { storageDbKey, type StoredReceipt } from '../../src/storage/contract-records.js';
import { frameTxs, txIdAt, verifyFramed } from '../../src/tx/frames.js';
import { CtxOff } from '../../src/tx/contract-tx.js';
import { TX_ID_SIZE } from '../../src/tx/layout.js';
import { CRASH_ACCOUNTS, CRASH_BALANCE, crashConfig, prng, TOKEN_SUPPLY, tokenAddress, tokenBalanceKey } from '../support/crash-child.js';
import { type Ack, afterDamage, checkChain, copyDataDir, expectSoundRound, killLiveChildren, type Plan, runChild, withStore } from '../support/crash-harness.js';
import { devnetKeys, tempDir } from '../support/fixtures.js';

/**
 * Crash safety with contracts in the load (issue 14: "kill -9 mid-block loses nothing
 * acknowledged", "replay from genesis reproduces contract state"). The child of crash.test.ts in
 * its contracts mode deploys the example token from account 0 and then mixes account 0's token
 * `transfer` calls into every chunk of the other accounts' native transfers; it is killed with
 * SIGKILL at seeded moments on the same data dir. After every kill: every acknowledged block is
 * stored as acknowledged, every acknowledged token call is committed with an OK receipt, the token
 * conserves its supply, native value is conserved up to the burned fees, and a replay from genesis
 * gives the stored state (contract state included). At the end the chain is also re-executed by
 * the real Ledger into a fresh data dir, which must produce the same headers and token storage.
 * Set CRASH_SEED to replay another schedule.
 */
const SEED = Number(process.env.CRASH_SEED ?? 0xc0de);
const ROUNDS = 6;
/** Token storage key of the total supply (contracts/token.ts). */
const SUPPLY_KEY = Buffer.from('s');

const dirs: { remove(): void }[] = [];
afterAll(() => {
  killLiveChildren();
  for (const d of dirs) d.remove();
});

/** An empty data dir for a replay (removed after the file). */
function emptyDir(): string {
  const d = tempDir('hotledger-contract-replay-');
  dirs.push(d);
  return d.path;
}

const readU64 = (v: Buffer | undefined): number => (v ? Number(v.readBigUInt64LE(0)) : 0);

interface ContractCheck {
  problems: string[];
  tip: ChainTip | undefined;
  /** Acknowledged token calls looked up (the call picks plus uniform picks that were calls). */
  callsChecked: number;
  /** Receipts in the whole chain, and how many of them are not OK. */
  receipts: number;
  reverted: number;
}

/**
 * checkChain (acknowledged blocks, a whole chain, the in-memory replay from genesis incl. contract
 * state and receipts) plus what the token load must leave behind. Returns the failures.
 */
function checkStore(store: LedgerStore, cfg: Config, acks: readonly Ack[], replay = true): ContractCheck {
  const { problems, tip } = checkChain(store, cfg, acks, replay);
  const out: ContractCheck = { problems, tip, callsChecked: 0, receipts: 0, reverted: 0 };
  if (!tip) return out;
  const keys = devnetKeys(cfg.chain.chainId, CRASH_ACCOUNTS);
  const address = tokenAddress(cfg.chain.chainId);
  // Every acknowledged call is committed where the child saw it, with an OK receipt listed in its block.
  const checkCall = (id: string, height: number, position: number) => {
    out.callsChecked++;
    const txId = Buffer.from(id, 'hex');
    const loc = store.getTxLocation(txId);
    if (!loc || loc.height !== height || loc.position !== position || loc.status !== 0) {
      problems.push(`acknowledged call ${id} (block ${height}, position ${position}) is not committed there: ${JSON.stringify(loc)}`);
    }
    const receipt = store.getReceipt(txId);
    if (!receipt) problems.push(`acknowledged call ${id} has no receipt`);
    else if (receipt.status !== 0) problems.push(`acknowledged call ${id}: receipt status ${receipt.status} (${receipt.message ?? ''})`);
    if (!store.getBlockReceipts(height).some((r) => r.index === position && r.txId.equals(txId)))
      problems.push(`block ${height} does not list the receipt of call ${id} at ${position}`);
  };
  for (const a of acks) {
    const calls = a.calls ?? [];
    for (const c of calls) checkCall(c.txId, a.height, c.position);
    // The uniform pick may be a call too (the checks above cover it when it is).
    if (a.txId !== '-' && !calls.some((c) => c.txId === a.txId) && store.getReceipt(Buffer.from(a.txId, 'hex'))) {
      problems.push(`block ${a.height}: picked tx ${a.txId} has a receipt but the child did not list it as its call`);
    }
    // All contract transactions come from the child: a block holds receipts of exactly the calls it listed.
    const stored = store.getBlockReceipts(a.height).length;
    if (stored !== calls.length) problems.push(`block ${a.height} holds ${stored} receipts, the child acknowledged ${calls.length} calls in it`);
  }
  // The deploy is account 0's nonce 1: once that is committed the token must be there.
  const deployed = (store.getAccount(keys[0]!.publicKey)?.nonce ?? 0) >= 1;
  const contract = store.getContract(address);
  if (deployed && !contract) problems.push(`account 0's deploy is committed but no contract is at ${address.toString('hex')}`);
  if (contract) {
    if (!contract.deployer.equals(Buffer.from(keys[0]!.publicKey))) problems.push('token deployer is not account 0');
    // Token calls move tokens between accounts, never create or destroy them.
    let held = 0;
    for (const k of keys) held += readU64(store.getContractStorage(address, tokenBalanceKey(k.publicKey)));
    if (held !== TOKEN_SUPPLY) problems.push(`token balances sum to ${held}, supply is ${TOKEN_SUPPLY}`);
    const supply = readU64(store.getContractStorage(address, SUPPLY_KEY));
    if (supply !== TOKEN_SUPPLY) problems.push(`token total_supply is ${supply}, not ${TOKEN_SUPPLY}`);
  }
  // Native value: the accounts plus the contract's balance plus the burned fees are the genesis total.
  let native = contract?.balance ?? 0;
  for (const k of keys) native += store.getAccount(k.publicKey)?.balance ?? 0;
  if (native + store.feesBurned() !== CRASH_ACCOUNTS * CRASH_BALANCE) {
    problems.push(`native balances ${native} + burned fees ${store.feesBurned()} != ${CRASH_ACCOUNTS * CRASH_BALANCE}`);
  }
  if (deployed && store.feesBurned() === 0) problems.push('contract transactions are committed but no fee was burned');
  for (let h = 1; h <= tip.height; h++) {
    for (const r of store.getBlockReceipts(h)) {
      out.receipts++;
      if (r.receipt.status !== 0) out.reverted++;
    }
  }
  return out;
}

/**
 * Re-executes the stored chain with the node's own Ledger (real LMDB, one shard: the child ran
 * two) into the empty data dir `path`, and compares every block's header hash and the final
 * contract state with the source store. Returns the disagreements.
 */
async function replayIntoFreshDir(source: LedgerStore, cfg: Config, path: string): Promise<{ problems: string[]; blocks: number; storageEntries: number }> {
  const problems: string[] = [];
  const tip = source.tip()!;
  const ledger = await Ledger.open({
    path,
    mapSizeMb: cfg.storage.mapSizeMb,
    cacheSizeMb: cfg.storage.cacheSizeMb,
    chainId: cfg.chain.chainId,
    shards: 1,
    genesis: genesisAccounts(cfg),
  });
  let storageEntries = 0;
  try {
    if (!ledger.tip.hash.equals(headerHash(source.getHeaderBytes(0)!))) problems.push('genesis differs');
    const durable: Promise<void>[] = [];
    for (let h = 1; h <= tip.height; h++) {
      const header = source.getHeader(h)!;
      const txs = Buffer.from(source.getPayload(h)!);
      const frames = frameTxs(txs);
      if (!frames) {
        problems.push(`block ${h}: payload does not frame`);
        break;
      }
      const ids = Buffer.allocUnsafe(frames.count * TX_ID_SIZE);
      for (let i = 0; i < frames.count; i++) txIdAt(txs, frames.offsets[i]!, frames.offsets[i + 1]! - frames.offsets[i]!).copy(ids, i * TX_ID_SIZE);
      const a = await ledger.apply({ txs, count: frames.count, verified: verifyFramed(txs, frames.count), ids, timestamp: header.timestamp, round: header.round });
      durable.push(a.durable);
      if (!a.header.stateRoot.equals(header.stateRoot)) problems.push(`block ${h}: state root ${a.header.stateRoot.toString('hex')} != stored ${header.stateRoot.toString('hex')}`);
      if (!a.hash.equals(headerHash(source.getHeaderBytes(h)!))) problems.push(`block ${h}: header hash differs from the stored one`);
    }
    await Promise.all(durable);
    const fresh = ledger.store;
    fresh.refresh();
    if (!fresh.tip()?.stateRoot.equals(tip.stateRoot)) problems.push('final state root differs');
    const address = tokenAddress(cfg.chain.chainId);
    const keys = [SUPPLY_KEY, ...devnetKeys(cfg.chain.chainId, CRASH_ACCOUNTS).map((k) => tokenBalanceKey(k.publicKey))];
    for (const key of keys) {
      const want = source.getContractStorage(address, key);
      const got = fresh.getContractStorage(address, key);
      if ((want === undefined) !== (got === undefined) || (want && got && !want.equals(got))) {
        problems.push(`token storage ${key.toString('hex').slice(0, 18)}…: stored ${want?.toString('hex')} != replayed ${got?.toString('hex')}`);
      }
    }
    storageEntries = fresh.contractStorageCount();
    if (storageEntries !== source.contractStorageCount()) problems.push(`replayed ${storageEntries} storage entries, the store holds ${source.contractStorageCount()}`);
    if (JSON.stringify(fresh.getContract(address)) !== JSON.stringify(source.getContract(address))) problems.push('token contract record differs');
    if (fresh.feesBurned() !== source.feesBurned()) problems.push(`replay burned ${fresh.feesBurned()}, the store ${source.feesBurned()}`);
  } finally {
    await ledger.close();
  }
  return { problems, blocks: tip.height, storageEntries };
}

describe('crash safety under SIGKILL with token calls in the load', () => {
  const dir = tempDir('hotledger-contract-crash-');
  dirs.push(dir);
  const cfg = crashConfig(dir.path);
  let lastTip: ChainTip | undefined;
  let allAcks: Ack[] = [];

  it(`comes back with every acknowledged block and token call, the token's supply intact, after ${ROUNDS} kills`, async () => {
    const rnd = prng(SEED);
    const log: string[] = [];
    const t0 = performance.now();
    let last: ContractCheck | undefined;
    for (let r = 0; r < ROUNDS; r++) {
      // As in crash.test.ts: right after an ack, inside a block cycle, and right after a restart (round 2).
      const plan: Plan = r === 2 ? { blocks: 0, delayMs: Math.floor(rnd() * 40) } : { blocks: 3 + Math.floor(rnd() * 8), delayMs: rnd() < 0.3 ? 0 : 1 + Math.floor(rnd() * 80) };
      const round = await runChild(dir.path, SEED + r, plan, 'contracts');
      const ctx = `round ${r} (${JSON.stringify(plan)}), stderr:\n${round.stderr}`;
      expectSoundRound(round, lastTip, ctx);
      last = await withStore(dir.path, cfg, (s) => checkStore(s, cfg, [...allAcks, ...round.acks]));
      expect(last.problems, ctx).toEqual([]);
      const maxAck = round.acks.at(-1)?.height ?? round.ready!.height;
      const calls = round.acks.reduce((n, a) => n + (a.calls?.length ?? 0), 0);
      log.push(
        `round ${r}: plan ${plan.blocks} blocks + ${plan.delayMs} ms; acked ${round.acks.length} (to height ${maxAck}, ${calls} token calls in them); ` +
          `killed ${round.killAfterAckMs.toFixed(1)} ms after the last ack (block cycle ~${round.blockCycleMs.toFixed(0)} ms); store tip ${last.tip!.height} (${last.tip!.height - maxAck} durable block(s) beyond the last ack)`,
      );
      allAcks = [...allAcks, ...round.acks];
      lastTip = last.tip;
    }
    log.push(
      `${ROUNDS} kills, ${allAcks.length} acknowledged blocks, ${allAcks.reduce((s, a) => s + a.committed, 0)} acknowledged txs, ` +
        `${last!.callsChecked} acknowledged token calls checked, ${last!.receipts} receipts in the chain (${last!.reverted} reverted), ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    console.log(log.join('\n'));
    // The load did run contracts: the token was deployed and its calls were acknowledged and succeeded.
    expect(last!.callsChecked).toBeGreaterThanOrEqual(allAcks.length);
    expect(last!.reverted).toBe(0);
    expect(last!.receipts).toBeGreaterThan(allAcks.length);
  }, 120_000);

  it('a replay from genesis into a fresh data dir reproduces every header and the token storage', async () => {
    const t0 = performance.now();
    const r = await withStore(dir.path, cfg, (s) => replayIntoFreshDir(s, cfg, emptyDir()));
    expect(r.problems).toEqual([]);
    expect(r.blocks).toBe(lastTip!.height);
    // The supply key plus at least account 0 and a few recipients.
    expect(r.storageEntries).toBeGreaterThan(3);
    console.log(`fresh-dir replay: ${r.blocks} blocks, ${r.storageEntries} token storage entries, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  });

  it('catches a store whose contract state or receipts were altered (the checks can fail)', async () => {
    const tip = lastTip!;
    const keys = devnetKeys(cfg.chain.chainId, CRASH_ACCOUNTS);
    const address = tokenAddress(cfg.chain.chainId);
    const victim = tokenBalanceKey(keys[5]!.publicKey);
    // One token balance one higher than the blocks made it.
    const storagePath = copyDataDir(dir.path, 'storage', dirs);
    const storage = await afterDamage(
      storagePath,
      cfg,
      (s) => {
        const v = Buffer.from(s.getContractStorage(address, victim)!);
        v.writeBigUInt64LE(v.readBigUInt64LE(0) + 1n, 0);
        return s.contractStorage.put(storageDbKey(address, victim), v);
      },
      async (s) => ({ check: checkStore(s, cfg, allAcks).problems, fresh: (await replayIntoFreshDir(s, cfg, emptyDir())).problems }),
    );
    expect(storage.check).toContain(`token balances sum to ${TOKEN_SUPPLY + 1}, supply is ${TOKEN_SUPPLY}`);
    expect(storage.check).toContain(`replay: contract ${address.toString('hex')}: storage ${victim.toString('hex')} differs from the replay`);
    expect(storage.fresh.some((p) => p.startsWith(`token storage ${victim.toString('hex').slice(0, 18)}`))).toBe(true);

    // An acknowledged call's receipt turned into a revert.
    const ack = allAcks.find((a) => a.calls?.length)!;
    const call = ack.calls![0]!;
    const callId = Buffer.from(call.txId, 'hex');
    const receipt = await afterDamage(
      copyDataDir(dir.path, 'receipt', dirs),
      cfg,
      (s) => s.receipts.put(callId, { ...(s.receipts.get(callId) as StoredReceipt), s: 1 }),
      (s) => checkStore(s, cfg, allAcks).problems,
    );
    expect(receipt.some((p) => p.startsWith(`acknowledged call ${call.txId}: receipt status 1`))).toBe(true);
    expect(receipt).toContain(`replay: block ${ack.height}: replayed contract receipts differ from the stored ones`);

    // A stored block whose token call was altered (its amount): the signature no longer holds, so
    // both replays diverge from the stored state root at that block.
    const mid = allAcks.find((a) => a.calls?.length && a.height >= tip.height / 2) ?? ack;
    const payloadPath = copyDataDir(dir.path, 'payload', dirs);
    const payload = await afterDamage(
      payloadPath,
      cfg,
      (s) => {
        const txs = Buffer.from(s.getPayload(mid.height)!);
        const at = frameTxs(txs)!.offsets[mid.calls!.at(-1)!.position]!;
        // The amount is the last 8 bytes of the args, right before the signature.
        const amountAt = at + txs.readUInt32LE(at + CtxOff.LENGTH) - 64 - 8;
        txs[amountAt] = txs[amountAt]! ^ 0x01;
        return s.payloads.put(mid.height, txs);
      },
      async (s) => ({ check: checkStore(s, cfg, allAcks).problems, fresh: (await replayIntoFreshDir(s, cfg, emptyDir())).problems }),
    );
    expect(payload.check.some((p) => p.startsWith(`replay: block ${mid.height}: state root`))).toBe(true);
    expect(payload.fresh.some((p) => p.startsWith(`block ${mid.height}: state root`))).toBe(true);
  }, 60_000);
});
