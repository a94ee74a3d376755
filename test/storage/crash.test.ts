import { describe, it, expect, afterAll } from 'vitest';
import { chunkKey, type LedgerStore, TX_ID_CHUNK, type ChainTip } from '../../src/storage/ledger-store.js';
import { encodeAccount } from '../../src/storage/records.js';
import { headerHash } from '../../src/chain/block-header.js';
import { startNode } from '../../src/node/node.js';
import { generateTransfers } from '../../src/workload/generate.js';
import { txId } from '../../src/tx/codec.js';
import { TX_SIZE } from '../../src/tx/layout.js';
import type { CommittedBlockEvent } from '../../src/node/node-api.js';
import type { Config } from '../../src/config/schema.js';
import { CRASH_ACCOUNTS, CRASH_BALANCE, crashConfig, prng } from '../support/crash-child.js';
import { type Ack, afterDamage, checkChain, copyDataDir, expectSoundRound, killLiveChildren, type Plan, runChild, withStore } from '../support/crash-harness.js';
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

const dirs: { remove(): void }[] = [];
afterAll(() => {
  killLiveChildren();
  for (const d of dirs) d.remove();
});

/**
 * Everything the store must satisfy after a crash (checkChain: acknowledged blocks, a whole chain,
 * the replay), plus: transfers move value, never create it. Returns the failures (empty when it holds).
 */
function checkStore(store: LedgerStore, cfg: Config, acks: readonly Ack[], replay = true): { problems: string[]; tip: ChainTip | undefined } {
  const { problems, tip } = checkChain(store, cfg, acks, replay);
  if (!tip) return { problems, tip };
  let supply = 0;
  for (const k of devnetKeys(cfg.chain.chainId, CRASH_ACCOUNTS)) supply += store.getAccount(k.publicKey)?.balance ?? 0;
  if (supply !== CRASH_ACCOUNTS * CRASH_BALANCE) problems.push(`total supply ${supply} != ${CRASH_ACCOUNTS * CRASH_BALANCE}`);
  return { problems, tip };
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
      expectSoundRound(round, lastTip, ctx);
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
    const copy = (tag: string) => copyDataDir(dir.path, tag, dirs);
    const probe = (path: string, damage: (s: LedgerStore) => Promise<unknown>, acks: readonly Ack[] = allAcks, replay = true) =>
      afterDamage(path, cfg, damage, (s) => checkStore(s, cfg, acks, replay).problems);
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
