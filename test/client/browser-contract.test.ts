import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Browser } from 'puppeteer-core';
import { openClientPage } from '../support/client-page.js';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { bundleClient } from '../../src/client/build.js';
import { signContractTx } from '../../src/tx/contract-tx.js';
import { getJson, startApi, type ApiHarness } from '../api/support/api.js';

/**
 * Contract transactions from a browser page: the client's browser bundle (built from dist/ as
 * `npm run build` builds the dashboard's copy) signs a deploy byte for byte like the node's
 * encoder, deploys the example token to a real node, calls it and reads its storage, with no
 * Buffer and no node built-in in the page. test/client/browser.test.ts covers the packed package.
 */
const repo = resolve(import.meta.dirname, '../..');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const TOKEN = resolve(repo, 'dist/contracts/token.wasm');

let h: ApiHarness;
let browser: Browser | undefined;
beforeAll(async () => {
  for (const f of [CHROMIUM, TOKEN, resolve(repo, 'dist/src/client/index.js')]) if (!existsSync(f)) throw new Error(`${f} is missing (npm run build; Debian's chromium)`);
  h = await startApi({ overrides: { chain: { genesis: { devnetAccounts: 2 } } } });
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await h?.close();
});

test('a page signs, deploys and calls the token and reads its storage', async () => {
  const { code } = await bundleClient({ entry: "import * as hotledger from './dist/src/client/index.js';\nwindow.hotledger = hotledger;\n", resolveDir: repo, minify: false });
  const opened = await openClientPage(CHROMIUM, h.base, code);
  browser = opened.browser;
  const { page, errors } = opened;
  const wasm = readFileSync(TOKEN);
  const seed = h.tn.keys[0]!.seed;
  const to = Buffer.from(h.tn.keys[1]!.publicKey).toString('hex');
  const out = await page.evaluate(
    async (seedHex: string, wasmHex: string, toHex: string, base: string, chainId: number) => {
      type Hl = typeof import('../../src/client/index.js');
      const { HotledgerClient, Keypair, signDeployTx, u64Arg } = (globalThis as unknown as { hotledger: Hl }).hotledger;
      const hexToBytes = (s: string) => Uint8Array.from(s.match(/../g) ?? [], (b) => Number.parseInt(b, 16));
      const toHexStr = (u: Uint8Array) => Array.from(u, (b) => b.toString(16).padStart(2, '0')).join('');
      const from = Keypair.fromSeed(seedHex);
      const codeBytes = hexToBytes(wasmHex);
      // A fixed-nonce deploy, only to compare its bytes with the node's encoder.
      const sample = signDeployTx({ chainId, from, nonce: 9, gasLimit: 5_000_000, code: codeBytes, initArgs: u64Arg(1000) });
      const client = new HotledgerClient(base);
      const d = await client.deploy({ from, code: codeBytes, initArgs: u64Arg(1000), gasLimit: 5_000_000 });
      const c = await client.call({ from, contract: d.address, method: 'transfer', args: toHex + u64Arg(30), gasLimit: 1_000_000 });
      const info = await client.getContract(d.address, [`62${toHex}`]);
      client.close();
      return { sample: toHexStr(sample.bytes), sampleId: sample.id, deploy: d, call: c, storage: info?.storage, hasBuffer: 'Buffer' in globalThis };
    },
    Buffer.from(seed).toString('hex'),
    wasm.toString('hex'),
    to,
    h.base,
    h.tn.chainId,
  );
  const init = Buffer.alloc(8);
  init.writeBigUInt64LE(1000n);
  const node = signContractTx({ kind: 'deploy', chainId: h.tn.chainId, sender: h.tn.keys[0]!.publicKey, nonce: 9, gasLimit: 5_000_000, code: wasm, initArgs: init }, seed);
  expect(out.sample).toBe(node.toString('hex'));
  expect(out.hasBuffer).toBe(false);
  expect(out.deploy.receipt).toMatchObject({ status: 'OK', address: out.deploy.address });
  expect(out.call.receipt).toMatchObject({ status: 'OK', events: [{ contract: out.deploy.address, topic: Buffer.from('transfer').toString('hex') }] });
  const amount = Buffer.alloc(8);
  amount.writeBigUInt64LE(30n);
  expect(out.storage).toEqual({ [`62${to}`]: amount.toString('hex') });
  expect((await getJson(`${h.base}/api/v11/transactions/${out.call.id}`)).body.contract.status).toBe('OK');
  expect(errors).toEqual([]);
}, 60_000);
