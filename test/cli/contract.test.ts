import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readKeyFile } from '../../src/crypto/keys.js';
import { CLI_MAIN, cli, STACK, startDevnetChild } from '../support/cli-child.js';

/** `hotledger contract deploy|call|get` against a devnet node started by the CLI (dist/, `npm run build`). */
const TOKEN = resolve('dist/contracts/token.wasm');

/** The JSON the command printed after its `submitted` / `committed` lines. */
function printedJson(stdout: string): any {
  return JSON.parse(stdout.slice(stdout.indexOf('{')));
}

const u64 = (v: bigint) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(v);
  return b.toString('hex');
};

let tmp: string;
let node: ChildProcess | undefined;
let url = '';
let keyFile = '';
let owner = '';

beforeAll(async () => {
  if (!existsSync(CLI_MAIN) || !existsSync(TOKEN)) throw new Error(`${CLI_MAIN} or ${TOKEN} is missing: run \`npm run build\` first (npm test does)`);
  tmp = mkdtempSync(join(tmpdir(), 'hotledger-cli-contract-'));
  const started = await startDevnetChild(join(tmp, 'devnet'));
  ({ node, url, keyFile } = started);
  owner = Buffer.from(readKeyFile(keyFile).publicKey).toString('hex');
}, 40_000);
afterAll(() => {
  if (node && node.exitCode === null) node.kill('SIGKILL');
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('hotledger contract', () => {
  test('help lists deploy, call and get', () => {
    const r = cli(['contract', '--help']);
    expect(r.code).toBe(0);
    for (const c of ['deploy', 'call', 'get']) expect(r.stdout).toContain(c);
  });

  test('deploy the token, call transfer, read balances with get; out of gas exits 1 with its receipt', () => {
    const d = cli(['contract', 'deploy', TOKEN, '--key', keyFile, '--init-u64', '1000000', '--url', url]);
    expect(d.code, d.stderr).toBe(0);
    const address = /contract address ([0-9a-f]{64})/.exec(d.stdout)?.[1];
    expect(address, d.stdout).toBeDefined();
    expect(d.stdout).toMatch(/committed in block \d+ at position \d+/);
    const dr = printedJson(d.stdout);
    expect(dr).toMatchObject({ status: 'OK', address, gasUsed: expect.any(Number), fee: expect.any(Number), events: [] });

    const to = 'cd'.repeat(32);
    const c = cli(['contract', 'call', address!, 'transfer', '--key', keyFile, '--args', to, '--arg-u64', '25', '--url', url]);
    expect(c.code, c.stderr).toBe(0);
    const cr = printedJson(c.stdout);
    expect(cr).toMatchObject({ status: 'OK', events: [{ contract: address, topicText: 'transfer', data: owner + to + u64(25n) }] });

    const g = cli(['contract', 'get', address!, '--key', `62${owner}`, '--key', `62${to}`, '--key', '73', '--url', url]);
    expect(g.code, g.stderr).toBe(0);
    expect(JSON.parse(g.stdout)).toMatchObject({
      address,
      deployer: owner,
      balance: '0',
      codeSize: readFileSync(TOKEN).length,
      storage: { [`62${owner}`]: u64(1_000_000n - 25n), [`62${to}`]: u64(25n), '73': u64(1_000_000n) },
    });

    const oog = cli(['contract', 'call', address!, 'transfer', '--key', keyFile, '--args', to, '--arg-u64', '1', '--gas', '1000', '--url', url]);
    expect(oog.code).toBe(1);
    expect(printedJson(oog.stdout)).toMatchObject({ status: 'OUT_OF_GAS', gasUsed: 1000, fee: 1 });
    expect(oog.stderr).toMatch(/^error: the call transfer reverted: OUT_OF_GAS/);
    expect(oog.stderr).not.toMatch(STACK);
  });

  test('bad input and an unknown contract are explained in words', () => {
    const none = cli(['contract', 'get', 'ab'.repeat(32), '--url', url]);
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/no contract at .*\(CONTRACT_NOT_FOUND, HTTP 404\)/);
    expect(cli(['contract', 'get', 'xyz', '--url', url]).stderr).toMatch(/^error: contract address must be 64 hex digits/);
    expect(cli(['contract', 'call', 'ab'.repeat(32), 'm', '--key', keyFile, '--args', 'abc', '--url', url]).stderr).toMatch(/--args must be hex/);
    expect(cli(['contract', 'call', 'ab'.repeat(32), 'm', '--key', keyFile, '--gas', '0', '--url', url]).stderr).toMatch(/--gas must be an integer from 1/);
    const missing = cli(['contract', 'deploy', join(tmp, 'none.wasm'), '--key', keyFile, '--url', url]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/cannot read contract module/);
    expect(missing.stderr).not.toMatch(STACK);
    // A call to no contract is committed with a CONTRACT_NOT_FOUND receipt (the fee is charged).
    const nowhere = cli(['contract', 'call', 'ab'.repeat(32), 'transfer', '--key', keyFile, '--url', url]);
    expect(nowhere.code).toBe(1);
    expect(printedJson(nowhere.stdout)).toMatchObject({ status: 'CONTRACT_NOT_FOUND' });
  });
});
