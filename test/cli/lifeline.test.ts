import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../src/runtime/module-path.js';
import { tempDir } from '../support/fixtures.js';
import { alive, killAll } from '../support/processes.js';

const dir = tempDir('hotledger-lifeline-');
const pids: number[] = [];
afterAll(() => {
  killAll(pids);
  dir.remove();
});

describe('a node started by a supervisor', () => {
  it('exits when the supervisor is gone before the node finished starting', async () => {
    const child = spawn(process.execPath, [join(projectRoot(), 'dist', 'src', 'cli', 'main.js'), 'start', '--devnet', '--data-dir', join(dir.path, 'n'), '--port', '0'], {
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      env: { ...process.env, HOTLEDGER_PROFILE: '' },
    });
    pids.push(child.pid!);
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    // At once: the node is still loading modules and opening its stores, its shutdown hook not yet set.
    child.disconnect();
    const code = await Promise.race([exited, new Promise<'running'>((r) => setTimeout(() => r('running'), 25_000))]);
    expect(code, `node still running 25 s after its supervisor left; output: ${out.slice(-800)}`).toBe(0);
    expect(alive(child.pid!)).toBe(false);
    expect(out).toContain('supervisor gone');
  }, 40_000);
});
