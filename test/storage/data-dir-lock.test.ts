import { describe, it, expect, afterAll } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { existsSync, readdirSync, statSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compiledPath } from '../../src/runtime/module-path.js';
import { startNode } from '../../src/node/node.js';
import { HotledgerError } from '../../src/errors.js';
import { DataDirLock, LOCK_NAME } from '../../src/storage/data-dir-lock.js';
import { tempDir, testConfig } from '../support/fixtures.js';

/**
 * Item 11: a node's data dir is locked. Real child processes: a second process on the same dir is
 * refused with DATA_DIR_LOCKED naming the holder and touches nothing; after kill -9 of the holder a
 * new process starts on the dir. A second node in the same process is refused the same way.
 */
/**
 * The child: a real node on `dataDir` that holds it until killed. Prints `ready <pid>` once
 * started, or `refused <code> <message>` and exits 3. Runs the compiled node (npm run build).
 */
const NODE = compiledPath('../../src/node/node.ts', import.meta.url);
const FIXTURES = compiledPath('../support/fixtures.ts', import.meta.url);
const CHILD = `
const { startNode } = await import(${JSON.stringify(NODE)});
const { testConfig } = await import(${JSON.stringify(FIXTURES)});
const [dataDir, nodeId] = process.argv.slice(2);
try {
  await startNode(testConfig(dataDir, 4, { node: { id: nodeId }, pipeline: { threads: 1 } }));
  process.stdout.write('ready ' + process.pid + '\\n');
  setInterval(() => undefined, 60000);
} catch (e) {
  process.stdout.write('refused ' + (e.code ?? 'UNKNOWN') + ' ' + e.message + '\\n');
  process.exit(3);
}
`;
const dirs: { remove(): void }[] = [];
const live = new Set<ChildProcess>();
afterAll(() => {
  for (const c of live) c.kill('SIGKILL');
  for (const d of dirs) d.remove();
});

interface Outcome {
  line: string;
  child: ChildProcess;
  exited: Promise<number | null>;
}

/** Starts a child and resolves with its first stdout line (`ready …` or `refused …`). */
function run(dataDir: string, nodeId: string): Promise<Outcome> {
  const script = join(dataDir, '..', 'lock-child.mjs');
  if (!existsSync(script)) writeFileSync(script, CHILD);
  const child = spawn(process.execPath, [script, dataDir, nodeId], { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  const exited = new Promise<number | null>((r) =>
    child.on('exit', (code) => {
      live.delete(child);
      r(code);
    }),
  );
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += String(d)));
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', (line) => resolve({ line, child, exited }));
    void exited.then((code) => reject(new Error(`child exited ${code} before a line: ${stderr}`)));
  });
}

/** Every entry of the dir (recursively) with its size and mtime: "nothing is touched" is checked on this. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const f of readdirSync(d)) {
      const p = join(d, f);
      const s = statSync(p);
      if (s.isDirectory()) walk(p);
      else out[p] = `${s.size}:${s.mtimeMs}`;
    }
  };
  walk(dir);
  return out;
}

describe('data dir lock', () => {
  it('a second process is refused, naming the dir and the holder, and touches nothing; after kill -9 a new process starts', async () => {
    const dir = tempDir('hotledger-lock-');
    dirs.push(dir);
    const dataDir = join(dir.path, 'node');
    const first = await run(dataDir, 'first');
    expect(first.line).toMatch(/^ready \d+$/);
    const holderPid = Number(first.line.split(' ')[1]);
    const before = snapshot(dataDir);

    const second = await run(dataDir, 'second');
    expect(second.line).toContain('refused DATA_DIR_LOCKED');
    expect(second.line).toContain(dataDir);
    expect(second.line).toContain(`pid ${holderPid}`);
    expect(second.line).toContain('node first');
    expect(await second.exited).toBe(3);
    expect(snapshot(dataDir)).toEqual(before);

    first.child.kill('SIGKILL');
    await first.exited;
    expect(existsSync(join(dataDir, LOCK_NAME))).toBe(true); // left behind by the killed holder
    const third = await run(dataDir, 'third');
    expect(third.line).toMatch(/^ready \d+$/);
    // The dead holder's socket is cleaned up; only the live one remains.
    await new Promise((r) => setTimeout(r, 200));
    expect(readdirSync(dataDir).filter((f) => f.startsWith('lock-'))).toHaveLength(1);
    third.child.kill('SIGKILL');
    await third.exited;
  }, 60_000);

  it('a second node in the same process on the same data dir is refused; after close the dir is free', async () => {
    const dir = tempDir('hotledger-lock-');
    dirs.push(dir);
    const cfg = testConfig(join(dir.path, 'node'), 4);
    const a = await startNode(cfg);
    try {
      const err = await startNode(cfg).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(HotledgerError);
      expect((err as HotledgerError).code).toBe('DATA_DIR_LOCKED');
      expect((err as HotledgerError).message).toContain(`pid ${process.pid}`);
      expect(a.health().ready.find((c) => c.name === 'storage')?.status).toBe('UP');
    } finally {
      await a.close();
    }
    const b = await startNode(cfg);
    await b.close();
  }, 60_000);

  it('a lock whose holder died (socket refusing) is taken over; a live one is not, even by many contenders at once', async () => {
    const dir = tempDir('hotledger-lock-');
    dirs.push(dir);
    const d = join(dir.path, 'x');
    mkdirSync(d);
    const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => DataDirLock.acquire(d, `n${i}`)));
    const won = results.filter((r) => r.status === 'fulfilled');
    expect(won).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect((r.reason as HotledgerError).code).toBe('DATA_DIR_LOCKED');
    const lock = (won[0] as PromiseFulfilledResult<DataDirLock>).value;
    expect(lock.held).toBe(true);
    await lock.release();
    expect(existsSync(join(d, LOCK_NAME))).toBe(false);
    const again = await DataDirLock.acquire(d, 'again');
    await again.release();
  });

  it('works for a data dir path longer than a Unix socket path allows', async () => {
    const dir = tempDir('hotledger-lock-');
    dirs.push(dir);
    const d = join(dir.path, 'a'.repeat(60), 'b'.repeat(60));
    const lock = await DataDirLock.acquire(d, 'long');
    const err = await DataDirLock.acquire(d, 'other').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect((err as HotledgerError).code).toBe('DATA_DIR_LOCKED');
    await lock.release();
  });
});
