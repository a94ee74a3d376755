import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import type { Browser } from 'puppeteer-core';
import { openClientPage } from '../support/client-page.js';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { bundleClient } from '../../src/client/build.js';
import { startApi, getJson, type ApiHarness } from '../api/support/api.js';

/**
 * `hotledger/client` as the package ships it (`npm pack`), used where the node's own code cannot
 * run: bundled for a browser (platform `browser`, no node polyfills, so a node built-in anywhere
 * in its import graph fails the build) and run in headless Chromium against a real node; and
 * type-checked from a fresh TypeScript project with browser types only, against the shipped .d.ts.
 * Needs `npm run build` (the package entry is dist/).
 */
const run = promisify(execFile);
const repo = resolve(import.meta.dirname, '../..');
// Debian's chromium (.ci/run installs it), as test/dashboard does; CHROMIUM_PATH points elsewhere.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// What the client may need at run time: pure-JS packages only. `ws` is the Node 20 WebSocket and
// never part of a browser bundle (package.json `browser`), but is linked for node consumers.
const RUNTIME_DEPS = ['@noble/ed25519', '@noble/hashes', 'ws'];

let h: ApiHarness;
let app: string;
let browser: Browser | undefined;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH`);
  app = mkdtempSync(join(tmpdir(), 'hotledger-client-browser-'));
  const [api] = await Promise.all([startApi({ overrides: { chain: { genesis: { devnetAccounts: 2 } } } }), install(app)]);
  h = api;
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await h?.close();
  if (app) rmSync(app, { recursive: true, force: true });
});

/**
 * The packed tarball unpacked as npm lays out a dependency (node_modules/hotledger), offline. Its
 * dependencies are not fetched (no registry here, and the node's native ones are not the client's
 * business): the three pure-JS packages the client needs are linked from this repository, so a
 * client import of anything else fails to resolve.
 */
async function install(dir: string): Promise<void> {
  const { stdout } = await run('npm', ['pack', '--silent', '--pack-destination', dir], { cwd: repo, timeout: 60_000 });
  const tarball = join(dir, stdout.trim().split('\n').at(-1)!);
  const pkg = join(dir, 'node_modules/hotledger');
  mkdirSync(pkg, { recursive: true });
  await run('tar', ['-xzf', tarball, '-C', pkg, '--strip-components=1'], { timeout: 30_000 });
  for (const dep of RUNTIME_DEPS) {
    mkdirSync(join(dir, 'node_modules', dep, '..'), { recursive: true });
    symlinkSync(join(repo, 'node_modules', dep), join(dir, 'node_modules', dep), 'dir');
  }
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module', dependencies: { hotledger: `file:${tarball}` } }));
}

describe('hotledger/client from the packed package', () => {
  test('bundles for the browser without node built-ins and transfers from a page in Chromium', async () => {
    const { code, metafile } = await bundleClient({ entry: "import * as hotledger from 'hotledger/client';\nwindow.hotledger = hotledger;\n", resolveDir: app, minify: false });
    // `(disabled):` marks what the `browser` field maps to nothing (ws): not in the bundle.
    const inputs = Object.keys(metafile.inputs).filter((f) => !f.startsWith('(disabled):'));
    // The shipped files, browser key-file stub instead of node:fs, and no `ws`.
    expect(inputs.some((f) => f.endsWith('node_modules/hotledger/dist/src/client/index.js'))).toBe(true);
    expect(inputs.some((f) => f.endsWith('/client/keyfile.browser.js'))).toBe(true);
    expect(inputs.filter((f) => /\/client\/keyfile\.js$|\/crypto\/keys\.js$|\/tx\/codec\.js$|node_modules\/ws\//.test(f))).toEqual([]);
    const packages = new Set(inputs.map((f) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(f)?.[1] ?? f.split('/').at(-1)));
    expect([...packages].sort()).toEqual(['@noble/ed25519', '@noble/hashes', 'entry.js', 'hotledger']);

    const opened = await openClientPage(CHROMIUM, h.base, code);
    browser = opened.browser;
    const { page, errors } = opened;
    const funder = h.tn.keys[0]!;
    const out = await page.evaluate(
      async (seedHex: string, base: string) => {
        // Runs in the page: `globalThis` is its window.
        type Hl = typeof import('../../src/client/index.js');
        const { HotledgerClient, Keypair } = (globalThis as unknown as { hotledger: Hl }).hotledger;
        const client = new HotledgerClient(base);
        const from = Keypair.fromSeed(seedHex);
        const fresh = Keypair.generate();
        // Built, signed and submitted here, then watched until it is in a block.
        const nonce = ((await client.account(from.publicKey))?.nonce ?? 0) + 1;
        const tx = await client.sign({ from, to: fresh.publicKey, amount: 1000, nonce });
        const answer = await client.submit(tx);
        const funded = await client.waitDurable(tx.id, answer.endpoint);
        // The fresh key pays part of it back, in one call that resolves once durable.
        const back = await client.transfer({ from: fresh, to: from.publicKey, amount: 250 });
        const account = await client.account(fresh.publicKey);
        let keyFile = '';
        try {
          Keypair.readFile('/etc/key.json');
        } catch (e) {
          keyFile = (e as { code: string }).code;
        }
        client.close();
        return {
          id: tx.id,
          accepted: answer.accepted,
          funded,
          back,
          fresh: fresh.publicKeyHex,
          balance: String(account?.balance),
          nonce: account?.nonce,
          keyFile,
          hasBuffer: 'Buffer' in globalThis,
        };
      },
      Buffer.from(funder.seed).toString('hex'),
      h.base,
    );
    expect(out.accepted).toBe(1);
    expect(out.funded).toMatchObject({ status: 'committed', id: out.id, height: expect.any(Number) });
    expect(out.back).toMatchObject({ id: expect.stringMatching(/^[0-9a-f]{64}$/), height: expect.any(Number), position: expect.any(Number) });
    expect(out.back.height).toBeGreaterThan(out.funded.height!);
    expect({ balance: out.balance, nonce: out.nonce }).toEqual({ balance: '750', nonce: 1 });
    expect(out.keyFile).toBe('UNSUPPORTED_PLATFORM');
    expect(out.hasBuffer).toBe(false);
    // The node knows both under the ids the page computed (noble), at the heights the page was told.
    expect((await getJson(`${h.base}/api/v11/transactions/${out.id}`)).body).toMatchObject({ status: 'committed', height: out.funded.height });
    expect((await getJson(`${h.base}/api/v11/transactions/${out.back.id}`)).body).toMatchObject({ status: 'committed', height: out.back.height, position: out.back.position });
    expect(errors).toEqual([]);
  }, 60_000);

  test('a TypeScript project with browser types only type-checks against the shipped .d.ts', async () => {
    const types = readdirSync(join(app, 'node_modules/hotledger/dist/src/client')).filter((f) => f.endsWith('.d.ts'));
    expect(types).toContain('index.d.ts');
    writeFileSync(
      join(app, 'app.ts'),
      [
        "import { HotledgerClient, Keypair, ClientError, TransactionRejectedError, type Durable, type SignedTransaction } from 'hotledger/client';",
        "const c = new HotledgerClient(['http://127.0.0.1:9003', 'http://127.0.0.1:9004'], { requestTimeoutMs: 2000 });",
        'const k: Keypair = Keypair.generate();',
        'const p: Promise<Durable> = c.transfer({ from: k, to: k.publicKeyHex, amount: 1n });',
        'const s: Promise<SignedTransaction> = c.sign({ from: k, to: k.publicKey, amount: 1, nonce: 1 });',
        'const bytes: Uint8Array = Keypair.fromKeyFile(k.toKeyFile()).seed;',
        "const e: boolean = new ClientError('TIMEOUT', 'm', { retrySafe: true }).retrySafe && new TransactionRejectedError('x', 'DUPLICATE', 'm').retrySafe;",
        'void p; void s; void bytes; void e;',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        // No @types/node: the client's declarations must stand on the DOM and ES libraries alone.
        // The package's .d.ts files are checked (no skipLibCheck); the standard library's are not re-checked.
        compilerOptions: {
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2022',
          lib: ['ES2022', 'DOM'],
          types: [],
          strict: true,
          noEmit: true,
          skipDefaultLibCheck: true,
        },
        files: ['app.ts'],
      }),
    );
    const tsc = (cwd: string) => run(process.execPath, [join(repo, 'node_modules/typescript/bin/tsc'), '-p', '.'], { cwd, timeout: 50_000 });
    // One wrong use in the same file: the types are real, not `any` (test/client/package.test.ts does the rest).
    writeFileSync(join(app, 'app.ts'), `${readFileSync(join(app, 'app.ts'), 'utf8')}const wrong: number = c.endpoints;\nvoid wrong;\n`);
    const failed = await tsc(app).then(
      () => '',
      (e: { stdout: string }) => e.stdout,
    );
    expect(failed.trim().split('\n')).toEqual([expect.stringMatching(/^app\.ts\(9,7\): error TS2322: Type 'readonly string\[\]' is not assignable to type 'number'\./)]);
  }, 60_000);
});

// The package's `exports` names the declarations, not the TypeScript sources (not in node_modules consumers' builds).
test('package.json exports types from dist', () => {
  const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'));
  expect(pkg.exports['./client']).toEqual({ types: './dist/src/client/index.d.ts', import: './dist/src/client/index.js' });
});
