/**
 * The parts of the SIGKILL tests (test/storage/crash.test.ts, test/storage/contract-crash.test.ts)
 * that do not depend on the load: running test/support/crash-child.ts as a real child process and
 * killing it on a plan, and the checks a store must pass after a crash.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, lstatSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { performance } from 'node:perf_hooks';
import { compiledPath } from '../../src/runtime/module-path.js';
import { LedgerStore, type ChainTip } from '../../src/storage/ledger-store.js';
import { replayChain, type ReplayReport } from '../../src/execution/replay.js';
import { genesisAccounts } from '../../src/chain/genesis.js';
import type { Config } from '../../src/config/schema.js';
import { expect } from 'vitest';
import { tempDir } from './fixtures.js';

const CHILD = compiledPath('./crash-child.ts', import.meta.url);

/** One `durable` line of the child: a block it acknowledged. */
export interface Ack {
  height: number;
  stateRoot: string;
  committed: number;
  rejected: number;
  txId: string;
  position: number;
  /** Contracts mode: every committed token call (and the deploy) of the block that the child submitted. */
  calls?: { txId: string; position: number }[];
}

export interface Plan {
  /** Kill once this many new blocks were acknowledged (0: right after the node reports ready). */
  blocks: number;
  /** Then wait this long (0: kill in the same turn the last awaited line arrived). */
  delayMs: number;
}

export interface Round {
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

const live = new Set<ChildProcess>();

/** For afterAll: a test that failed mid-round leaves no child running. */
export function killLiveChildren(): void {
  for (const c of live) c.kill('SIGKILL');
}

/**
 * Spawns the child on `dir` (`mode` 'contracts': the token load), kills it as planned, and
 * resolves once it is gone and its output drained.
 */
export function runChild(dir: string, seed: number, plan: Plan, mode?: 'contracts'): Promise<Round> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dir, String(seed), ...(mode ? [mode] : [])], { stdio: ['ignore', 'pipe', 'pipe'] });
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
        const ack: Ack = { height: Number(f[1]), stateRoot: f[2]!, committed: Number(f[3]), rejected: Number(f[4]), txId: f[5]!, position: Number(f[6]) };
        if (f.length > 8)
          ack.calls = f.slice(8).map((c) => {
            const [txId, position] = c.split(':');
            return { txId: txId!, position: Number(position) };
          });
        round.acks.push(ack);
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
 * What any store must satisfy after a crash, whatever the load; returns the failures (empty when
 * it holds). `acks`: the blocks the child acknowledged durable; `replay`: also replay the chain
 * from genesis (its report is returned for load-specific checks).
 */
export function checkChain(
  store: LedgerStore,
  cfg: Config,
  acks: readonly Ack[],
  replay = true,
): { problems: string[]; tip: ChainTip | undefined; replayed: ReplayReport | undefined } {
  const problems: string[] = [];
  const tip = store.tip();
  if (!tip) return { problems: ['store has no tip'], tip, replayed: undefined };
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
  let replayed: ReplayReport | undefined;
  if (replay) {
    replayed = replayChain(store, cfg.chain.chainId, genesisAccounts(cfg));
    problems.push(...replayed.problems.map((p) => `replay: ${p}`));
    if (replayed.height !== tip.height) problems.push(`replay reached ${replayed.height}, tip is ${tip.height}`);
    if (!replayed.stateRoot.equals(tip.stateRoot)) problems.push(`replayed state root ${replayed.stateRoot.toString('hex')} != stored ${tip.stateRoot.toString('hex')}`);
  }
  return { problems, tip, replayed };
}

/** Opens the store for `f` (sync or async), and closes it once `f` is done, whatever it does. */
export async function withStore<T>(path: string, cfg: Config, f: (s: LedgerStore) => T | Promise<T>): Promise<T> {
  const store = new LedgerStore({ path, mapSizeMb: cfg.storage.mapSizeMb });
  try {
    return await f(store);
  } finally {
    await store.close();
  }
}

/** A copy of a killed node's data dir to damage (registered in `dirs` for removal). */
export function copyDataDir(from: string, tag: string, dirs: { remove(): void }[]): string {
  const d = tempDir(`hotledger-crash-${tag}-`);
  dirs.push(d);
  // The killed node's lock socket cannot be copied (and a copy needs no lock).
  cpSync(from, d.path, { recursive: true, filter: (src) => !lstatSync(src).isSocket() });
  return d.path;
}

/** Opens the store at `path`, applies `damage`, waits until it is written, and runs `check` on what the store now reads. */
export async function afterDamage<T>(path: string, cfg: Config, damage: (s: LedgerStore) => Promise<unknown>, check: (s: LedgerStore) => T | Promise<T>): Promise<T> {
  const store = new LedgerStore({ path, mapSizeMb: cfg.storage.mapSizeMb });
  try {
    await damage(store);
    await store.root.flushed;
    store.refresh();
    return await check(store);
  } finally {
    await store.close();
  }
}

/**
 * What every kill round must show, whatever the load: killed by SIGKILL, no transaction reported
 * committed before its block was durable, a restart at exactly the tip the last check saw, one
 * ack per block in height order from there, nothing rejected. `ctx` goes into every message.
 */
export function expectSoundRound(round: Round, lastTip: ChainTip | undefined, ctx: string): void {
  expect(round.signal, ctx).toBe('SIGKILL');
  expect(round.early, ctx).toEqual([]);
  expect(round.ready, ctx).toBeDefined();
  if (lastTip) {
    expect(round.ready!.height, ctx).toBe(lastTip.height);
    expect(round.ready!.stateRoot, ctx).toBe(lastTip.stateRoot.toString('hex'));
  }
  expect(
    round.acks.map((a) => a.height),
    ctx,
  ).toEqual(round.acks.map((_, i) => round.ready!.height + 1 + i));
  expect(
    round.acks.every((a) => a.rejected === 0),
    ctx,
  ).toBe(true);
}
