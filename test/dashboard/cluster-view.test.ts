import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';
import { ClusterSupervisor, waitClusterReady } from '../../src/cluster/supervisor.js';
import { planTopology, writeTopology } from '../../src/cluster/topology.js';
import { startClusterView, type ClusterView } from '../../src/dashboard/cluster-view.js';
import { projectRoot } from '../../src/runtime/module-path.js';
import { tempDir } from '../support/fixtures.js';

/**
 * The cluster view of a real 4-validator cluster (one process each) in Chromium: every node is
 * listed up; a validator's process SIGKILLed turns red within two seconds, and green again after
 * it is restarted on the same data dir.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOT = process.env.HOTLEDGER_SCREENSHOTS === '1' ? join(projectRoot(), 'docs', 'cluster-view.png') : undefined;
const dir = tempDir('hotledger-cluster-view-');
let sup: ClusterSupervisor | undefined;
let view: ClusterView | undefined;
let browser: Browser | undefined;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium) or set CHROMIUM_PATH`);
  const t = await planTopology({ validators: 4, dir: join(dir.path, 'cluster'), basePort: 0, accounts: 4, chainId: 4343, timeoutMs: 1_000 });
  writeTopology(t, { logLevel: 'warn' });
  sup = new ClusterSupervisor(t);
  await sup.start();
  await waitClusterReady(sup, 30_000);
  view = await startClusterView(
    t.nodes.map((n) => ({ id: n.id, role: n.role, process: n.process, url: sup!.url(n.index) })),
    { port: 0 },
  );
  browser = await puppeteer.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  page = await browser.newPage();
  await page.setViewport({ width: 1280, height: 260 });
  page.on('pageerror', (e) => pageErrors.push(String(e)));
  page.on('console', (m) => {
    if (m.type() === 'error') pageErrors.push(m.text());
  });
});
afterAll(async () => {
  await browser?.close();
  await view?.close();
  await sup?.stop('SIGKILL');
  dir.remove();
});

const status = (id: string) => `document.querySelector('#nodes tr[data-node="${id}"]')?.dataset.status`;

describe('cluster view in Chromium', () => {
  test('every node up; a killed validator is red within 2 s and green again once restarted', async () => {
    await page.goto(`${view!.url}/`, { waitUntil: 'load' });
    await page.waitForFunction(`document.querySelectorAll('#nodes tr[data-status="up"]').length === 4`, { timeout: 10_000 }).catch(async (e) => {
      throw new Error(`not every node up: ${await page.$eval('#nodes', (el) => el.textContent)} (${e})`);
    });
    expect(await page.$$eval('#nodes tr', (trs) => trs.map((tr) => tr.getAttribute('data-node')))).toEqual(['v0', 'v1', 'v2', 'v3']);
    expect(await page.$eval('#nodes tr[data-node="v0"] td[data-col="role"]', (el) => el.textContent)).toBe('validator');

    const killedAt = Date.now();
    await sup!.kill(3, 'SIGKILL');
    await page.waitForFunction(`${status('v3')} === 'down'`, { timeout: 5_000, polling: 50 });
    const redAfterMs = Date.now() - killedAt;
    expect(redAfterMs).toBeLessThan(2_000);
    expect(await page.evaluate(`${status('v0')}`)).toBe('up');
    expect(await page.$eval('#summary', (el) => el.textContent)).toContain('1 down');
    if (SCREENSHOT) {
      mkdirSync(dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT as `${string}.png` });
    }

    await sup!.restart(3);
    await page.waitForFunction(`${status('v3')} === 'up'`, { timeout: 20_000 });
    expect(pageErrors).toEqual([]);
    console.log(`cluster view: killed v3 shown down after ${redAfterMs} ms`);
  });
});
