import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import WebSocket from 'ws';
import { startApi, transfer, getJson, postTx, waitFor, type ApiHarness } from '../api/support/api.js';
import { projectRoot } from '../../src/runtime/module-path.js';
import { createConnection, createServer, type Server, type Socket } from 'node:net';

// Debian's chromium (.ci/run installs it); CHROMIUM_PATH points elsewhere.
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
// `npm run screenshots` sets it: a plain test run leaves docs/ alone.
const SCREENSHOT = process.env.HOTLEDGER_SCREENSHOTS === '1' ? join(projectRoot(), 'docs', 'dashboard.png') : undefined;

let h: ApiHarness;
let browser: Browser;
let page: Page;
let proxy: OutageProxy;
const pageErrors: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH`);
  h = await startApi();
  proxy = new OutageProxy(h.server.port);
  await proxy.start(0);
  browser = await puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Root in CI: Chromium refuses to start sandboxed as root. The page is our own, on loopback.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
  });
  page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 1100 });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  // The explorer's not-found searches are 404s from the API by design; any other failed load
  // (a missing file of the page, a CSP refusal, a script error) is a fault.
  page.on('console', (m) => {
    if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) pageErrors.push(m.text());
  });
  page.on('response', (r) => {
    if (r.status() >= 400 && !new URL(r.url()).pathname.startsWith('/api/v11/')) pageErrors.push(`${r.status()} ${r.url()}`);
  });
});
afterAll(async () => {
  await browser?.close();
  await proxy?.stop();
  await h?.close();
});

describe('dashboard files', () => {
  test('/ and /dashboard answer the page with an ETag; a matching If-None-Match gets a bodiless 304', async () => {
    for (const path of ['/', '/dashboard', '/dashboard/']) {
      const r = await fetch(`${h.base}${path}`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(r.headers.get('content-security-policy')).toContain("connect-src 'self'");
      expect(await r.text()).toContain('<title>hotledger dashboard</title>');
      const etag = r.headers.get('etag')!;
      expect(etag).toMatch(/^"[\w-]{22}"$/);
      const again = await fetch(`${h.base}${path}`, { headers: { 'if-none-match': etag } });
      expect(again.status).toBe(304);
      expect(await again.text()).toBe('');
    }
    const chartLib = await fetch(`${h.base}/dashboard/vendor/uPlot.iife.min.js`);
    expect(chartLib.status).toBe(200);
    expect(chartLib.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await chartLib.text()).toContain('uPlot');
    // The page reads the node through hotledger/client: its browser bundle, built by `npm run build`.
    const client = await fetch(`${h.base}/dashboard/vendor/hotledger-client.js`);
    expect(client.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const clientCode = await client.text();
    expect(clientCode).not.toContain('is missing; run `npm run build`');
    expect(clientCode).toMatch(/export\s*\{[^}]*\bHotledgerClient\b/);
    expect((await fetch(`${h.base}/dashboard/missing.js`)).status).toBe(404);
    expect((await fetch(`${h.base}/dashboard`, { method: 'POST' })).status).toBe(405);
  });

  test("the node's own origin may open the WebSocket; another site still may not", async () => {
    const open = (origin: string) =>
      new Promise<string>((resolve) => {
        const ws = new WebSocket(`${h.base.replace('http', 'ws')}/api/v11/ws`, { origin });
        ws.once('open', () => {
          ws.close();
          resolve('open');
        });
        ws.once('unexpected-response', (_req, res) => resolve(String(res.statusCode)));
        ws.once('error', () => resolve('error'));
      });
    expect(await open(h.base)).toBe('open');
    expect(await open('http://evil.example')).toBe('403');
  });
});

describe('dashboard in Chromium', () => {
  test('live figures, blocks arriving, explorer found / not found / error, node unreachable', async () => {
    // The page goes through a TCP proxy the test can cut, as a network outage would.
    await page.goto(`${proxy.base}/`, { waitUntil: 'load' });
    await page.waitForFunction(`document.getElementById('conn').dataset.state === 'live'`, { timeout: 10_000 });
    await page.waitForFunction(`document.getElementById('node-id').textContent !== '…'`, { timeout: 5_000 });
    expect(await text(page, '#node-id')).toBe((await getJson(`${h.base}/api/v11/info`)).body.nodeId);

    // Three rounds of transfers a second apart, so several blocks and TPS samples come in.
    const ids: string[] = [];
    const perRound = 40;
    for (let round = 0; round < 3; round++) {
      const batch = Buffer.concat(Array.from({ length: perRound }, (_, i) => transfer(h.tn, i % 4, (i + 1) % 4, round * (perRound / 4) + Math.floor(i / 4) + 1, 5)));
      const r = await postTx(h.base, batch, 'application/octet-stream');
      expect(r.status).toBe(202);
      expect(r.body.accepted).toBe(perRound);
      ids.push(...r.body.results.map((x: { id: string }) => x.id));
      await new Promise((res) => setTimeout(res, 1000));
    }
    const last = await waitFor(
      async () => {
        const t = (await getJson(`${h.base}/api/v11/transactions/${ids.at(-1)}`)).body;
        return t.status === 'committed' ? t : undefined;
      },
      15_000,
      'last transfer committed',
    );

    // Every block holding our transfers is listed, and their tx counts add up to what was sent.
    await page.waitForSelector(`#blocks tr[data-height="${last.height}"]`, { timeout: 10_000 });
    const listed = await page.$$eval('#blocks tr', (trs) => trs.map((tr) => ({ height: Number(tr.dataset.height), txs: Number(tr.children[2]!.textContent!.replace(/,/g, '')) })));
    expect(listed.map((b) => b.height)).toEqual([...listed.map((b) => b.height)].sort((a, b) => b - a));
    expect(listed.reduce((s, b) => s + b.txs, 0)).toBe(3 * perRound);
    expect(Number((await text(page, '#height')).replace(/,/g, ''))).toBeGreaterThanOrEqual(last.height);

    // The TPS chart has points (one a second) and saw the transfers go through.
    await page.waitForFunction(`Number(document.getElementById('tps-chart').dataset.points) >= 4`, { timeout: 10_000 });
    expect(await page.$$eval('#tps-chart canvas', (c) => c.length)).toBe(1);
    expect(Number(await page.evaluate(`document.getElementById('tps-chart').dataset.max`))).toBeGreaterThan(0);
    expect(await text(page, '#c-mode')).toBe('solo');

    // Explorer: a transaction id shows its status and its block.
    const first = (await getJson(`${h.base}/api/v11/transactions/${ids[0]}`)).body;
    await searchFor(page, ids[0]!);
    expect(await field(page, 'status')).toBe('committed');
    expect(await field(page, 'block')).toBe(String(first.height));
    expect(await field(page, 'hash')).toBe((await getJson(`${h.base}/api/v11/blocks/${first.height}`)).body.hash);

    // A block height, an account, an unknown id, and input that is none of these.
    await searchFor(page, String(last.height));
    expect(await field(page, 'height')).toBe(String(last.height));
    const account = Buffer.from(h.tn.keys[1]!.publicKey).toString('hex');
    await searchFor(page, account);
    expect(await field(page, 'balance')).toBe((await getJson(`${h.base}/api/v11/accounts/${account}`)).body.balance);
    await searchFor(page, 'ab'.repeat(32), 'not-found');
    expect(await text(page, '#result')).toContain('Not found');
    await searchFor(page, '99999999', 'not-found');
    expect(await text(page, '#result')).toContain('no block at height 99999999');
    await searchFor(page, 'not a thing', 'error');

    if (SCREENSHOT) {
      await searchFor(page, ids[0]!);
      mkdirSync(dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT as `${string}.png`, fullPage: true });
    }
    expect(pageErrors).toEqual([]);

    // The node cannot be reached, then can again: the page says so, reconnects by itself, and the
    // block feed resumes (a block committed after the outage shows up).
    const beforeOutage = pageErrors.length;
    await proxy.stop();
    await page.waitForFunction(`document.getElementById('conn').textContent === 'node unreachable'`, { timeout: 5_000 });
    await proxy.start(proxy.port);
    await page.waitForFunction(`document.getElementById('conn').dataset.state === 'live'`, { timeout: 10_000 });
    // Chromium logs each refused WebSocket reconnect during the outage as a console error: those
    // are the outage itself, not a fault of the page. Anything else logged in the window still fails.
    const duringOutage = pageErrors.splice(beforeOutage);
    pageErrors.push(...duringOutage.filter((e) => !/^WebSocket connection to '.*' failed: .*ERR_CONNECTION_(REFUSED|RESET|CLOSED)/.test(e)));
    const after = await postTx(h.base, transfer(h.tn, 0, 1, 3 * (perRound / 4) + 1, 5), 'application/octet-stream');
    expect(after.status).toBe(202);
    const afterTx = await waitFor(
      async () => {
        const t = (await getJson(`${h.base}/api/v11/transactions/${after.body.results[0].id}`)).body;
        return t.status === 'committed' ? t : undefined;
      },
      15_000,
      'transfer after the outage committed',
    );
    await page.waitForSelector(`#blocks tr[data-height="${afterTx.height}"]`, { timeout: 10_000 });
    expect(pageErrors).toEqual([]);

    // The node's API goes away for good: the page says so within a few seconds.
    await h.server.close();
    await page.waitForFunction(`document.getElementById('conn').textContent === 'node unreachable'`, { timeout: 5_000 });
    expect(await page.evaluate(`document.getElementById('unreachable').hidden`)).toBe(false);
  });
});

async function text(p: Page, selector: string): Promise<string> {
  return p.$eval(selector, (el) => el.textContent ?? '');
}

async function field(p: Page, name: string): Promise<string> {
  return p.$eval(`#result dd[data-field="${name}"]`, (el) => el.textContent ?? '');
}

async function searchFor(p: Page, q: string, state: 'found' | 'not-found' | 'error' = 'found'): Promise<void> {
  await p.evaluate(`document.getElementById('search').value = ''`);
  await p.type('#search', q);
  await p.click('#search-go');
  await p.waitForFunction(`document.getElementById('result').dataset.state === ${JSON.stringify(state)}`, { timeout: 5_000 });
}

/** A loopback TCP proxy to the node's API that can be cut (every connection destroyed) and put back on the same port. */
class OutageProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;
  constructor(private readonly target: number) {}

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  start(port: number): Promise<void> {
    const server = createServer((client) => {
      const upstream = createConnection(this.target, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        this.port = (server.address() as { port: number }).port;
        resolve();
      });
    });
  }

  stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => (server ? server.close(() => resolve()) : resolve()));
  }
}
