import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { compiledPath } from '../../src/runtime/module-path.js';
import { tempDir } from '../support/fixtures.js';
import { alive, killAll } from '../support/processes.js';

const dir = tempDir('hotledger-supervisor-death-');
let cluster: ChildProcess | undefined;
const pids: number[] = [];
afterAll(() => {
  cluster?.kill('SIGKILL');
  killAll(pids);
  dir.remove();
});

describe('hotledger cluster', () => {
  it('takes its validators with it when it is killed with SIGKILL', async () => {
    const cli = compiledPath('../../src/cli/main.ts', import.meta.url);
    cluster = spawn(process.execPath, [cli, 'cluster', '--validators', '2', '--base-port', '0', '--dir', dir.path, '--accounts', '2', '--fresh', '--log-level', 'warn'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    cluster.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    cluster.stderr!.on('data', () => undefined);
    const until = Date.now() + 45_000;
    while (pids.length < 2) {
      if (Date.now() > until) throw new Error(`the cluster did not report its validators: ${out}`);
      await new Promise((r) => setTimeout(r, 100));
      pids.splice(0, pids.length, ...[...out.matchAll(/ pid (\d+) /g)].map((m) => Number(m[1])));
    }
    expect(pids.every(alive)).toBe(true);
    cluster.kill('SIGKILL');
    const deadline = Date.now() + 20_000;
    while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(pids.filter(alive)).toEqual([]);
  }, 90_000);
});
