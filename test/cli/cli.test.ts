import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type AddressInfo } from 'node:net';
import { readKeyFile } from '../../src/crypto/keys.js';
import { CLI_MAIN as MAIN, cli, STACK, startDevnetChild } from '../support/cli-child.js';

let tmp: string;
beforeAll(() => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} is missing: run \`npm run build\` first (npm test does)`);
  tmp = mkdtempSync(join(tmpdir(), 'hotledger-cli-test-'));
});
afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('help and errors', () => {
  test('--help lists every command; each command has help', () => {
    const r = cli(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['start', 'keygen', 'send', 'account', 'block', 'tx', 'status', 'bench']) expect(r.stdout).toContain(c);
    for (const c of ['start', 'keygen', 'send', 'account', 'block', 'tx', 'status']) {
      const h = cli([c, '--help']);
      expect(h.code, c).toBe(0);
      expect(h.stdout).toMatch(/^Usage: hotledger /);
    }
    expect(cli(['bench', '--bench-help']).stdout).toContain('benchmark');
  });

  test('an invalid flag prints words, not a stack trace, and exits non-zero', () => {
    const r = cli(['start', '--bogus']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("unknown option '--bogus'");
    expect(r.stderr).not.toMatch(STACK);
    const m = cli(['send', '--to', 'ab']);
    expect(m.code).not.toBe(0);
    expect(m.stderr).toMatch(/required option/);
  });

  test('bad input and an unreachable node are explained in words', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
    const freePort = (srv.address() as AddressInfo).port;
    await new Promise((r) => srv.close(r));
    const bad = cli(['account', 'xyz']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^error: public key must be 64 hex digits/);
    const down = cli(['status', '--url', `http://127.0.0.1:${freePort}`]);
    expect(down.code).toBe(1);
    expect(down.stderr).toMatch(new RegExp(`cannot reach the node at http://127\\.0\\.0\\.1:${freePort}: connection refused`));
    expect(down.stderr).not.toMatch(STACK);
    const url = cli(['block', '--url', 'not a url']);
    expect(url.stderr).toMatch(/is not a URL/);
    const cfg = cli(['start', '--port', '99999']);
    expect(cfg.code).toBe(1);
    expect(cfg.stderr).toMatch(/--port must be an integer/);
    const fallback = cli(['start', '--profile', 'test', '--port', '0', '--data-dir', join(tmp, 'fb')], { UWS_USE_FALLBACK: '1' });
    expect(fallback.code).toBe(1);
    expect(fallback.stderr).toMatch(/error: the native uWebSockets\.js binary did not load .*UWS_USE_FALLBACK.*\(NATIVE_MODULE_MISSING\)/);
    expect(fallback.stderr).not.toMatch(STACK);
    const key = cli(['send', '--key', join(tmp, 'missing.json'), '--to', 'ab'.repeat(32), '--amount', '1']);
    expect(key.code).toBe(1);
    expect(key.stderr).toMatch(/cannot read key file/);
    expect(key.stderr).not.toMatch(STACK);
  });
});

describe('keygen', () => {
  test('writes a 0600 key file that reads back, refuses to overwrite', () => {
    const out = join(tmp, 'k', 'alice.json');
    const r = cli(['keygen', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    const kp = readKeyFile(out);
    expect(r.stdout).toContain(Buffer.from(kp.publicKey).toString('hex'));
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const again = cli(['keygen', '--out', out]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists/);
    const printed = cli(['keygen']);
    expect(JSON.parse(printed.stdout)).toMatchObject({ publicKey: expect.stringMatching(/^[0-9a-f]{64}$/), secretKey: expect.stringMatching(/^[0-9a-f]{64}$/) });
  });
});

describe('a devnet node driven by the CLI', () => {
  let node: ChildProcess | undefined;
  let url = '';
  let keyFile = '';
  beforeAll(async () => {
    ({ node, url, keyFile } = await startDevnetChild(join(tmp, 'devnet')));
  });
  afterAll(() => {
    if (node && node.exitCode === null) node.kill('SIGKILL');
  });

  test('send waits for the commit; account, block, tx and status query it', async () => {
    const to = 'cd'.repeat(32);
    const s = cli(['send', '--key', keyFile, '--to', to, '--amount', '42', '--url', url]);
    expect(s.code, s.stderr).toBe(0);
    const id = /submitted ([0-9a-f]{64})/.exec(s.stdout)?.[1];
    expect(id).toBeDefined();
    const m = /committed in block (\d+) at position (\d+)/.exec(s.stdout);
    expect(m, s.stdout).not.toBeNull();
    const acct = cli(['account', to, '--url', url]);
    expect(acct.code, acct.stderr).toBe(0);
    expect(JSON.parse(acct.stdout).balance).toBe('42');
    const tx = cli(['tx', id!, '--url', url]);
    expect(JSON.parse(tx.stdout)).toMatchObject({ status: 'committed', height: Number(m![1]), position: Number(m![2]) });
    const blk = cli(['block', m![1]!, '--url', url]);
    expect(JSON.parse(blk.stdout).height).toBe(Number(m![1]));
    expect(JSON.parse(cli(['block', '--url', url]).stdout).height).toBeGreaterThanOrEqual(Number(m![1]));
    const st = cli(['status'], { HOTLEDGER_URL: url });
    expect(st.code, st.stderr).toBe(0);
    expect(JSON.parse(st.stdout)).toMatchObject({ health: { status: 'UP' }, info: { chainId: expect.any(Number) } });
    // A replay (same nonce) is refused in words.
    const replay = cli(['send', '--key', keyFile, '--to', to, '--amount', '42', '--nonce', '1', '--url', url]);
    expect(replay.code).toBe(1);
    expect(replay.stderr).toMatch(/^error: the node rejected the transfer: .*\((NONCE_TOO_LOW|DUPLICATE)/);
    const unknown = cli(['tx', 'ee'.repeat(32), '--url', url]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/NOT_FOUND, HTTP 404/);
  });

  test('SIGTERM stops the node gracefully (exit 0)', async () => {
    const exited = new Promise<number | null>((res) => node!.once('exit', (c) => res(c)));
    node!.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
