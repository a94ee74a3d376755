import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, lstatSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Keypair } from '../../src/client/index.js';
import { startApi, type ApiHarness } from '../api/support/api.js';

/**
 * `hotledger/client` as an application gets it: a fresh project that depends on the repository
 * (`npm install file:<repo>`, offline), importing through the package `exports` entry, run by
 * plain Node in a child process against a real node. Needs `npm run build` (the entry is dist/).
 */
const run = promisify(execFile);
const repo = resolve(import.meta.dirname, '../..');
let h: ApiHarness;
let app: string;

beforeAll(async () => {
  h = await startApi({ overrides: { chain: { genesis: { devnetAccounts: 6 } } } });
  app = mkdtempSync(join(tmpdir(), 'hotledger-client-app-'));
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module', dependencies: { hotledger: `file:${repo}` } }));
  await run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts'], { cwd: app, timeout: 120_000 });
  for (let i = 0; i < 6; i++) Keypair.fromSeed(h.tn.keys[i]!.seed).writeFile(join(app, `account-${i}.json`));
}, 180_000);
afterAll(async () => {
  await h?.close();
  if (app) rmSync(app, { recursive: true, force: true });
});

const node = (file: string, key: number, args: string[] = []) =>
  run(process.execPath, [...args, file], {
    cwd: app,
    timeout: 60_000,
    env: { ...process.env, HOTLEDGER_URL: h.base, HOTLEDGER_KEY: join(app, `account-${key}.json`), RESOLVE_LOG: join(app, 'resolved.txt') },
  });

describe('hotledger/client from a fresh project', () => {
  test('npm links the dependency; the exports entry resolves to the built client', () => {
    expect(lstatSync(join(app, 'node_modules/hotledger')).isSymbolicLink()).toBe(true);
    expect(realpathSync(join(app, 'node_modules/hotledger'))).toBe(realpathSync(repo));
  });

  test('imports and runs a transfer without loading a native module (every resolved module listed)', async () => {
    writeFileSync(
      join(app, 'hooks.mjs'),
      "import { appendFileSync } from 'node:fs';\nexport async function resolve(s, c, next) { const r = await next(s, c); appendFileSync(process.env.RESOLVE_LOG, r.url + '\\n'); return r; }\n",
    );
    writeFileSync(join(app, 'register.mjs'), "import { register } from 'node:module';\nregister('./hooks.mjs', import.meta.url);\n");
    writeFileSync(
      join(app, 'probe.mjs'),
      "import { HotledgerClient, Keypair } from 'hotledger/client';\nconst c = new HotledgerClient(process.env.HOTLEDGER_URL);\nconst d = await c.transfer({ from: Keypair.readFile(process.env.HOTLEDGER_KEY), to: Keypair.generate().publicKey, amount: 5 });\nconsole.log(JSON.stringify(d));\nc.close();\n",
    );
    const { stdout } = await node('probe.mjs', 5, ['--import', './register.mjs']);
    expect(JSON.parse(stdout)).toMatchObject({ id: expect.stringMatching(/^[0-9a-f]{64}$/), height: expect.any(Number), position: expect.any(Number) });
    const urls = readFileSync(join(app, 'resolved.txt'), 'utf8').trim().split('\n');
    expect(urls.some((u) => u.endsWith('/dist/src/client/index.js'))).toBe(true);
    expect(urls.some((u) => u.includes('/node_modules/ws/'))).toBe(true); // the WebSocket was used
    const nonBuiltin = urls.filter((u) => !u.startsWith('node:'));
    expect(nonBuiltin.filter((u) => /lmdb|sodium|uWebSockets|uws|msgpackr|piscina|\.node$/i.test(u))).toEqual([]);
    // Only the client, the tx encoder, keys, errors and pure-JS packages.
    const packages = new Set(nonBuiltin.map((u) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(u)?.[1]).filter(Boolean));
    for (const p of packages) expect(['@noble/ed25519', '@noble/hashes', 'ws', 'hotledger']).toContain(p);
  }, 60_000);

  test('a TypeScript consumer type-checks against the exports types', async () => {
    writeFileSync(
      join(app, 'app.ts'),
      "import { HotledgerClient, Keypair, TransactionRejectedError, type Durable } from 'hotledger/client';\nconst c = new HotledgerClient('http://127.0.0.1:9003');\nconst k: Keypair = Keypair.generate();\nconst p: Promise<Durable> = c.transfer({ from: k, to: k.publicKeyHex, amount: 1 });\nconst bad: string = new TransactionRejectedError('x', 'DUPLICATE', 'm').rejectCode;\nvoid p; void bad;\n",
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, skipLibCheck: true },
        files: ['app.ts'],
      }),
    );
    await run(process.execPath, [join(repo, 'node_modules/typescript/bin/tsc'), '-p', '.'], { cwd: app, timeout: 60_000 });
    // And a wrong use is caught: the types are real, not `any`.
    writeFileSync(join(app, 'app.ts'), "import { HotledgerClient } from 'hotledger/client';\nconst n: number = new HotledgerClient('x').endpoints;\nvoid n;\n");
    await expect(run(process.execPath, [join(repo, 'node_modules/typescript/bin/tsc'), '-p', '.'], { cwd: app, timeout: 60_000 })).rejects.toMatchObject({
      stdout: expect.stringContaining('TS2322'),
    });
  }, 60_000);

  test('every example of docs/client.md runs as written against the node', async () => {
    const doc = readFileSync(join(repo, 'docs/client.md'), 'utf8');
    const examples = [...doc.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]!);
    expect(examples).toHaveLength(3);
    const outputs: string[] = [];
    for (const [i, code] of examples.entries()) {
      writeFileSync(join(app, `example-${i}.mjs`), code);
      outputs.push((await node(`example-${i}.mjs`, i)).stdout);
    }
    expect(outputs[0]).toMatch(/^committed [0-9a-f]{64} at height \d+, position \d+\nbalance of the recipient: 250\nrejected: INSUFFICIENT_FUNDS at height \d+\n$/);
    expect(outputs[1]).toMatch(/^accepted 100, rejected 0\nlast one committed at height \d+\n$/);
    expect(outputs[2]).toMatch(/block \d+: \d+ transactions\n(.*\n)*latest block \d+\n$/);
  }, 120_000);
});
