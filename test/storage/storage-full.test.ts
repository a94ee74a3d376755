import { describe, it, expect, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { startNode, type RunningNode } from '../../src/node/node.js';
import { HotledgerError } from '../../src/errors.js';
import { toErrorReply } from '../../src/api/errors.js';
import { generateTransfers } from '../../src/workload/generate.js';
import { TX_ID_SIZE } from '../../src/tx/layout.js';
import type { KeyPair } from '../../src/crypto/keys.js';
import { devnetKeys, tempDir, testConfig } from '../support/fixtures.js';

/**
 * Item 12 (storage): a full storage.mapSizeMb, and a full disk (a real tmpfs, when this process
 * may mount one), stop a real node cleanly: typed STORAGE_FULL, 503 on submission, readiness DOWN
 * with the reason, no crash; after the operator raises the limit (frees space) and restarts, the
 * node is at the last acknowledged block with every acknowledged transaction and commits again.
 */
const SENDERS = 256;
const CHUNK = 8_192;
const dirs: { remove(): void }[] = [];
const mounts: string[] = [];
afterAll(() => {
  for (const m of mounts) {
    try {
      execFileSync('umount', [m]);
    } catch {
      /* already gone */
    }
  }
  for (const d of dirs) d.remove();
});

interface Acked {
  height: number;
  stateRoot: string;
  ids: Set<string>;
}

function track(node: RunningNode, acked: Acked): void {
  node.onBlock((e) => {
    acked.height = e.block.height;
    acked.stateRoot = e.block.stateRoot;
    for (let i = 0; i < e.statuses.length; i++) {
      if (e.statuses[i] === 0) acked.ids.add(e.txIds.subarray(i * TX_ID_SIZE, (i + 1) * TX_ID_SIZE).toString('hex'));
    }
  });
}

/** Submits signed transfers until the node refuses with a HotledgerError; returns it. */
async function fillUntilRefused(node: RunningNode, keys: KeyPair[], next: number[], chainId: number, limitMs: number): Promise<HotledgerError> {
  const t0 = Date.now();
  const recipients = keys.map((k) => k.publicKey);
  while (Date.now() - t0 < limitMs) {
    while (node.stats().mempool.size > 4 * CHUNK) {
      if (node.health().ready.some((c) => c.name === 'storage' && c.status === 'DOWN')) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    const txs = generateTransfers({ chainId, senders: keys, recipients, count: CHUNK, startNonces: next });
    try {
      const res = await node.submit(txs);
      const bad = res.find((r) => !r.ok);
      if (bad) throw new Error(`admission rejected: ${JSON.stringify(bad)}`);
    } catch (e) {
      if (e instanceof HotledgerError) return e;
      throw e;
    }
    for (let i = 0; i < CHUNK; i++) next[i % keys.length]!++;
  }
  throw new Error(`the node never refused within ${limitMs} ms`);
}

async function expectStoppedCleanly(node: RunningNode, err: HotledgerError, reason: RegExp): Promise<void> {
  expect(err.code).toBe('STORAGE_FULL');
  expect(err.message).toMatch(reason);
  const reply = toErrorReply(err);
  expect(reply.status).toBe(503);
  expect(JSON.parse(reply.body).error.code).toBe('STORAGE_FULL');
  const storage = node.health().ready.find((c) => c.name === 'storage')!;
  expect(storage.status).toBe('DOWN');
  expect(storage.data?.code).toBe('STORAGE_FULL');
  expect(String(storage.data?.reason)).toMatch(reason);
  // Still refusing, still alive.
  await expect(
    node.submit(
      generateTransfers({
        chainId: node.config.chain.chainId,
        senders: devnetKeys(node.config.chain.chainId, 1),
        recipients: [devnetKeys(node.config.chain.chainId, 2)[1]!.publicKey],
        count: 1,
        startNonces: [10 ** 9],
      }),
    ),
  ).rejects.toMatchObject({ code: 'STORAGE_FULL' });
}

/** Restarts on the same data dir and checks nothing acknowledged is lost and the chain goes on. */
async function restartAndGoOn(cfg: ReturnType<typeof testConfig>, acked: Acked, keys: KeyPair[]): Promise<void> {
  const node = await startNode(cfg);
  try {
    const tip = node.getBlock('latest')!;
    expect(tip.height).toBe(acked.height);
    expect(tip.stateRoot).toBe(acked.stateRoot);
    for (const id of acked.ids) expect(node.getTransaction(Buffer.from(id, 'hex'))?.status).toBe('committed');
    const chainId = cfg.chain.chainId;
    const next = keys.map((k) => (node.getAccount(Buffer.from(k.publicKey))?.nonce ?? 0) + 1);
    const txs = generateTransfers({ chainId, senders: keys.slice(0, 8), recipients: [keys[9]!.publicKey], count: 8, startNonces: next.slice(0, 8) });
    const res = await node.submit(txs);
    expect(res.every((r) => r.ok)).toBe(true);
    await node.idle();
    expect(node.getBlock('latest')!.height).toBe(acked.height + 1);
    expect(node.health().ready.find((c) => c.name === 'storage')?.status).toBe('UP');
  } finally {
    await node.close();
  }
}

function canMountTmpfs(): boolean {
  const probe = tempDir('hotledger-mnt-');
  dirs.push(probe);
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe.path], { stdio: 'ignore' });
    execFileSync('umount', [probe.path], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

describe('full storage', () => {
  it('a full storage.mapSizeMb stops the node cleanly; raised and restarted, it goes on with nothing acknowledged lost', async () => {
    const dir = tempDir('hotledger-full-');
    dirs.push(dir);
    const cfg = testConfig(join(dir.path, 'node'), SENDERS, {
      storage: { mapSizeMb: 64 },
      pipeline: { batchSize: 20_000, batchTimeoutMs: 20 },
      mempool: { maxPerSender: 100_000 },
    });
    const keys = devnetKeys(cfg.chain.chainId, SENDERS);
    const acked: Acked = { height: 0, stateRoot: '', ids: new Set() };
    const node = await startNode(cfg);
    track(node, acked);
    const next = keys.map(() => 1);
    try {
      const err = await fillUntilRefused(node, keys, next, cfg.chain.chainId, 150_000);
      await expectStoppedCleanly(node, err, /storage\.mapSizeMb/);
      expect(acked.ids.size).toBeGreaterThan(50_000);
    } finally {
      await node.close();
    }
    await restartAndGoOn({ ...cfg, storage: { ...cfg.storage, mapSizeMb: 256 } }, acked, keys);
  }, 240_000);

  it.skipIf(!canMountTmpfs())(
    'a full disk (a 24 MB tmpfs) stops the node cleanly; after space is freed and a restart, it goes on',
    async () => {
      const dir = tempDir('hotledger-enospc-');
      dirs.push(dir);
      const mnt = join(dir.path, 'disk');
      mkdirSync(mnt);
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', mnt]);
      mounts.push(mnt);
      const cfg = testConfig(join(mnt, 'node'), SENDERS, {
        storage: { mapSizeMb: 1024 },
        pipeline: { batchSize: 4_000, batchTimeoutMs: 20 },
        mempool: { maxPerSender: 100_000 },
      });
      const keys = devnetKeys(cfg.chain.chainId, SENDERS);
      const acked: Acked = { height: 0, stateRoot: '', ids: new Set() };
      const node = await startNode(cfg);
      track(node, acked);
      const next = keys.map(() => 1);
      try {
        const err = await fillUntilRefused(node, keys, next, cfg.chain.chainId, 150_000);
        await expectStoppedCleanly(node, err, /disk full/);
      } finally {
        await node.close();
      }
      execFileSync('mount', ['-o', 'remount,size=96m', mnt]); // the operator frees space
      await restartAndGoOn(cfg, acked, keys);
    },
    240_000,
  );
});
