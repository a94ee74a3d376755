import { describe, it, expect, afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { cpSync, lstatSync } from 'node:fs';
import { compiledPath } from '../../src/runtime/module-path.js';
import { chunkKey, LedgerStore, TX_ID_CHUNK, type ChainTip } from '../../src/storage/ledger-store.js';
import { encodeAccount } from '../../src/storage/records.js';
import { replayChain } from '../../src/execution/replay.js';
import { headerHash } from '../../src/chain/block-header.js';
import { genesisAccounts } from '../../src/chain/genesis.js';
import { startNode } from '../../src/node/node.js';
import { generateTransfers } from '../../src/workload/generate.js';
import { txId } from '../../src/tx/codec.js';
import { TX_SIZE } from '../../src/tx/layout.js';
import type { CommittedBlockEvent } from '../../src/node/node-api.js';
import type { Config } from '../../src/config/schema.js';
import { CRASH_ACCOUNTS, CRASH_BALANCE, crashConfig, prng } from '../support/crash-child.js';
import { devnetKeys, tempDir } from '../support/fixtures.js';

/**
 * Crash safety: a real child process runs a node under continuous signed load and is killed with
 * SIGKILL at seeded, varying moments, several times, on the same data dir. After every kill the
 * store must be at a whole block that contains everything the child acknowledged as durable, and
 * a replay of the stored blocks from genesis must give the stored state root.
 * Set CRASH_SEED to replay another schedule.
 */
const SEED = Number(process.env.CRASH_SEED ?? 0x5eed);
const ROUNDS = 7;
const CHILD = compiledPath('../support/crash-child.ts', import.meta.url);

const dirs: { remove(): void }[] = [];
const live = new Set<ChildProcess>();
afterAll(() => {
  for (const c of live) c.kill('SIGKILL');
  for (const d of dirs) d.remove();
});

interface Ack {
  height: number;
  stateRoot: string;
  committed: number;
  rejected: number;
  txId: string;
  position: number;
}

interface Plan {
  /** Kill once this many new blocks were acknowledged (0: right after the node reports ready). */
  blocks: number;
  /** Then wait this long (0: kill in the same turn the last awaited line arrived). */
  delayMs: number;
}

interface Round {
  plan: Plan;
  ready: { height: number; stateRoot: string } | undefined;
  acks: Ack[];
  early: string[];
  stderr: string;
  signal: NodeJS.Signals | null;
  code: number | null;
  /** Time between the last acknowledgement the test had read and the kill. */
  killAfterAckMs: number;
  /** Mean time between acknowledgements in this round (the block cycle the kill lands in). */
  blockCycleMs: number;
}

/** Spawns the child on `dir`, kills it as planned, and resolves once it is gone and its output drained. */
function runChild(dir: string, seed: number, plan: Plan): Promise<Round> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dir, String(seed)], { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    const round: Round = { plan, ready: undefined, acks: [], early: [], stderr: '', signal: null, code: null, killAfterAckMs: -1, blockCycleMs: 0 };
    const ackTimes: number[] = [];
    let lastLineAt = 0;
    let killAt = 0;
    let killArmed = false;
    const kill = () => {
      if (killAt) return;
      killAt = performance.now();
      round.killAfterAckMs = killAt - lastLineAt;
      child.kill('SIGKILL');
    };
    const arm = () => {
      if (killArmed) return;
      killArmed = true;
      if (plan.delayMs === 0) kill();
      else setTimeout(kill, plan.delayMs);
    };
    const deadline = setTimeout(() => {
      kill();
      reject(new Error(`child did not reach ${plan.blocks} acknowledged blocks in time; stderr:\n${round.stderr}`));
    }, 30_000);
    child.stderr.setEncoding('utf8').on('data', (s: string) => (round.stderr += s));
    createInterface({ input: child.stdout }).on('line', (line) => {
      const f = line.split(' ');
      if (f[0] === 'ready') {
        round.ready = { height: Number(f[1]), stateRoot: f[2]! };
        lastLineAt = performance.now();
      } else if (f[0] === 'durable') {
        round.acks.push({ height: Number(f[1]), stateRoot: f[2]!, committed: Number(f[3]), rejected: Number(f[4]), txId: f[5]!, position: Number(f[6]) });
        lastLineAt = performance.now();
        ackTimes.push(lastLineAt);
      } else if (f[0] === 'early') {
        round.early.push(line);
      }
      if (!killAt && round.ready && round.acks.length >= plan.blocks) arm();
    });
    // 'close': the process exited AND its stdout/stderr are drained, so every line it wrote was read.
    child.on('close', (code, signal) => {
      clearTimeout(deadline);
      live.delete(child);
      round.code = code;
      round.signal = signal;
      if (ackTimes.length > 1) round.blockCycleMs = (ackTimes[ackTimes.length - 1]! - ackTimes[0]!) / (ackTimes.length - 1);
      resolve(round);
    });
    child.on('error', (e) => {
      clearTimeout(deadline);
      reject(e);
    });
  });
}

/**
 * Everything the store must satisfy after a crash; returns the failures (empty when it holds).
 * `acks`: the blocks the child acknowledged durable; `replay`: also replay the chain from genesis.
 */
function checkStore(store: LedgerStore, cfg: Config, acks: readonly Ack[], replay = true): { problems: string[]; tip: ChainTip | undefined } {
  const problems: string[] = [];
  const tip = store.tip();
  if (!tip) return { problems: ['store has no tip'], tip };
  // (1) Nothing acknowledged is lost: the acknowledged blocks are stored as acknowledged.
  const maxAck = Math.max(-1, ...acks.map((a) => a.height));
  if (tip.height < maxAck) problems.push(`tip ${tip.height} is below the highest acknowledged block ${maxAck}`);
  for (const a of acks) {
    const h = store.getHeader(a.height);
    if (!h) {
      problems.push(`acknowledged block ${a.height} is missing`);
      continue;
    }
    if (h.stateRoot.toString('hex') !== a.stateRoot) problems.push(`block ${a.height}: stored state root differs from the acknowledged one`);
    if (h.committed !== a.committed || h.rejected !== a.rejected) problems.push(`block ${a.height}: stored counts differ from the acknowledged ones`);
    if (a.txId !== '-') {
      const loc = store.getTxLocation(Buffer.from(a.txId, 'hex'));
      if (!loc || loc.height !== a.height || loc.position !== a.position || loc.status !== 0) {
        problems.push(`acknowledged tx ${a.txId} (block ${a.height}, position ${a.position}) is not committed there: ${JSON.stringify(loc)}`);
      }
    }
  }
  // (3) A whole chain: every height up to the tip is fully there, nothing beyond it.
  for (let h = 0; h <= tip.height; h++) {
    if (!store.getHeaderBytes(h)) problems.push(`header ${h} missing below tip ${tip.height}`);
    if (h > 0 && (!store.getPayload(h) || !store.getResults(h))) problems.push(`block ${h}: payload or results missing`);
  }
  if (store.getHeaderBytes(tip.height + 1)) problems.push(`a header exists above the tip ${tip.height}`);
  const top = store.getHeader(tip.height);
  if (top && !top.stateRoot.equals(tip.stateRoot)) problems.push('tip state root differs from the tip header');
  // (2) The stored state is the replay of the stored blocks.
  if (replay) {
    const r = replayChain(store, cfg.chain.chainId, genesisAccounts(cfg));
    problems.push(...r.problems.map((p) => `replay: ${p}`));
    if (r.height !== tip.height) problems.push(`replay reached ${r.height}, tip is ${tip.height}`);
    if (!r.stateRoot.equals(tip.stateRoot)) problems.push(`replayed state root ${r.stateRoot.toString('hex')} != stored ${tip.stateRoot.toString('hex')}`);
  }
  // Transfers move value, never create it.
  let supply = 0;
  for (const k of devnetKeys(cfg.chain.chainId, CRASH_ACCOUNTS)) supply += store.getAccount(k.publicKey)?.balance ?? 0;
  if (supply !== CRASH_ACCOUNTS * CRASH_BALANCE) problems.push(`total supply ${supply} != ${CRASH_ACCOUNTS * CRASH_BALANCE}`);
  return { problems, tip };
}

function withStore<T>(path: string, cfg: Config, f: (s: LedgerStore) => T): Promise<T> {
  const store = new LedgerStore({ path, mapSizeMb: cfg.storage.mapSizeMb });
  let out: T;
  try {
    out = f(store);
  } catch (e) {
    return store.close().then(() => Promise.reject(e as Error));
  }
  return store.close().then(() => out);
}

describe('crash safety under SIGKILL', () => {
  const dir = tempDir('hotledger-crash-');
  dirs.push(dir);
  const cfg = crashConfig(dir.path);
  let lastTip: ChainTip | undefined;
  let allAcks: Ack[] = [];

  it(`comes back at the last whole block, with every acknowledged block, after ${ROUNDS} kills under load`, async () => {
    const rnd = prng(SEED);
    const log: string[] = [];
    const t0 = performance.now();
    for (let r = 0; r < ROUNDS; r++) {
      // Kill points: after a few blocks with no delay (right after an ack: the next block is executing
      // or being written), after a delay inside a block cycle, and right after a restart (round 3).
      const plan: Plan = r === 3 ? { blocks: 0, delayMs: Math.floor(rnd() * 40) } : { blocks: 2 + Math.floor(rnd() * 10), delayMs: rnd() < 0.3 ? 0 : 1 + Math.floor(rnd() * 80) };
      const round = await runChild(dir.path, SEED + r, plan);
      const ctx = `round ${r} (${JSON.stringify(plan)}), stderr:\n${round.stderr}`;
      expect(round.signal, ctx).toBe('SIGKILL');
      expect(round.early, ctx).toEqual([]);
      expect(round.ready, ctx).toBeDefined();
      // The restart found exactly the tip the previous check saw.
      if (lastTip) {
        expect(round.ready!.height, ctx).toBe(lastTip.height);
        expect(round.ready!.stateRoot, ctx).toBe(lastTip.stateRoot.toString('hex'));
      }
      // One ack per block, in height order, continuing from the restart tip.
      expect(
        round.acks.map((a) => a.height),
        ctx,
      ).toEqual(round.acks.map((_, i) => round.ready!.height + 1 + i));
      expect(
        round.acks.every((a) => a.rejected === 0),
        ctx,
      ).toBe(true);
      const { problems, tip } = await withStore(dir.path, cfg, (s) => checkStore(s, cfg, [...allAcks, ...round.acks]));
      expect(problems, ctx).toEqual([]);
      const maxAck = round.acks.at(-1)?.height ?? round.ready!.height;
      const beyond = tip!.height - maxAck;
      log.push(
        `round ${r}: plan ${plan.blocks} blocks + ${plan.delayMs} ms; acked ${round.acks.length} (to height ${maxAck}); ` +
          `killed ${round.killAfterAckMs.toFixed(1)} ms after the last ack (block cycle ~${round.blockCycleMs.toFixed(0)} ms); ` +
          `store tip ${tip!.height}: ${beyond === 0 ? 'no unacknowledged block survived' : `${beyond} durable block(s) beyond the last ack`}`,
      );
      allAcks = [...allAcks, ...round.acks];
      lastTip = tip;
    }
    log.push(
      `${ROUNDS} rounds, ${allAcks.length} acknowledged blocks, ${allAcks.reduce((s, a) => s + a.committed, 0)} acknowledged txs, ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    console.log(log.join('\n'));
    expect(allAcks.length).toBeGreaterThan(ROUNDS);
  }, 120_000);

  it('catches a store that lost or altered data (the checks can fail)', async () => {
    expect(lastTip && lastTip.height >= 4).toBe(true);
    const tip = lastTip!;
    const mid = Math.floor(tip.height / 2);
    const copy = (tag: string) => {
      const d = tempDir(`hotledger-crash-${tag}-`);
      dirs.push(d);
      // The killed node's lock socket cannot be copied (and a copy needs no lock).
      cpSync(dir.path, d.path, { recursive: true, filter: (src) => !lstatSync(src).isSocket() });
      return d.path;
    };
    const probe = async (path: string, damage: (s: LedgerStore) => Promise<unknown>, acks: readonly Ack[] = allAcks, replay = true) => {
      const store = new LedgerStore({ path, mapSizeMb: cfg.storage.mapSizeMb });
      try {
        await damage(store);
        await store.root.flushed;
        store.refresh();
        return checkStore(store, cfg, acks, replay).problems;
      } finally {
        await store.close();
      }
    };
    // (The undamaged store passed the same checks after the last round: each failure below is the damage's.)
    // A hole in the chain.
    const hole = await probe(copy('hole'), (s) => s.headers.remove(mid));
    expect(hole).toContain(`replay: block ${mid} missing below tip ${tip.height}`);
    expect(hole).toContain(`header ${mid} missing below tip ${tip.height}`);
    // A half-written block (one of its stored tx ids wrong) and an account record that does
    // not match the blocks, in one copy: both are caught by one replay.
    const ack = allAcks.find((a) => a.height === mid && a.txId !== '-') ?? allAcks.find((a) => a.txId !== '-')!;
    const key = devnetKeys(cfg.chain.chainId, 3)[2]!.publicKey;
    const damaged = await probe(copy('half'), async (s) => {
      // The block's stored id at the acknowledged position no longer matches its transaction.
      const at = chunkKey(ack.height, Math.floor(ack.position / TX_ID_CHUNK));
      const chunk = Buffer.from(s.txIds.get(at)!);
      chunk[(ack.position % TX_ID_CHUNK) * 32] = chunk[(ack.position % TX_ID_CHUNK) * 32]! ^ 0xff;
      await s.txIds.put(at, chunk);
      const a = s.getAccount(key)!;
      return s.accounts.put(Buffer.from(key), encodeAccount(a.balance + 1, a.nonce));
    });
    expect(damaged.some((p) => p.startsWith(`replay: block ${ack.height}: tx index entry ${ack.position} is wrong`))).toBe(true);
    expect(damaged.some((p) => p.startsWith(`acknowledged tx ${ack.txId}`))).toBe(true);
    expect(damaged.some((p) => p.startsWith(`replay: account ${Buffer.from(key).toString('hex')}`))).toBe(true);
    expect(damaged.some((p) => p.startsWith('total supply'))).toBe(true);
    // The last block lost (the tip rolled back to a whole earlier block) although it was acknowledged.
    const lastAck: Ack = { height: tip.height, stateRoot: tip.stateRoot.toString('hex'), committed: 0, rejected: 0, txId: '-', position: -1 };
    const rolled = await probe(
      copy('rollback'),
      async (s) => {
        const prev = s.getHeaderBytes(tip.height - 1)!;
        await s.headers.remove(tip.height);
        return s.meta.put('tip', { height: tip.height - 1, hash: headerHash(prev), stateRoot: s.getHeader(tip.height - 1)!.stateRoot });
      },
      [...allAcks, lastAck],
      false,
    );
    expect(rolled).toContain(`tip ${tip.height - 1} is below the highest acknowledged block ${tip.height}`);
    expect(rolled).toContain(`acknowledged block ${tip.height} is missing`);
  });

  it('starts again in-process after the crashes and commits new transactions', async () => {
    const tip = lastTip!;
    const node = await startNode(cfg);
    try {
      const latest = node.getBlock('latest')!;
      expect(latest.height).toBe(tip.height);
      expect(latest.stateRoot).toBe(tip.stateRoot.toString('hex'));
      const keys = devnetKeys(cfg.chain.chainId, CRASH_ACCOUNTS);
      const senders = keys.slice(0, 4);
      const startNonces = senders.map((k) => node.getAccount(Buffer.from(k.publicKey))!.nonce + 1);
      const txs = generateTransfers({ chainId: cfg.chain.chainId, senders, recipients: keys.slice(10, 20).map((k) => k.publicKey), count: 40, startNonces });
      const events: CommittedBlockEvent[] = [];
      node.onBlock((e) => events.push(e));
      expect((await node.submit(txs)).every((r) => r.ok)).toBe(true);
      await node.idle();
      for (let i = 0; i < 40; i++) expect(node.getTransaction(txId(txs, i * TX_SIZE))?.status).toBe('committed');
      expect(node.getBlock('latest')!.height).toBeGreaterThan(tip.height);
      expect(events.reduce((s, e) => s + e.block.committed, 0)).toBe(40);
      expect(node.getAccount(Buffer.from(senders[0]!.publicKey))!.nonce).toBe(startNonces[0]! + 9);
    } finally {
      await node.close();
    }
    const { problems } = await withStore(dir.path, cfg, (s) => checkStore(s, cfg, allAcks));
    expect(problems).toEqual([]);
  });
});
