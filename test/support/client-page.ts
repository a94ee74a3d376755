import puppeteer, { type Browser, type Page } from 'puppeteer-core';

/**
 * A headless Chromium page on the node's own origin (its API answers the document, so fetch and
 * the WebSocket are same-origin) with a client bundle loaded as `window.hotledger`. Page errors
 * are collected in `errors`; the caller closes `browser`.
 */
export async function openClientPage(chromium: string, base: string, bundle: string): Promise<{ browser: Browser; page: Page; errors: string[] }> {
  const browser = await puppeteer.launch({ executablePath: chromium, headless: true, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.goto(`${base}/api/v11/info`);
  await page.addScriptTag({ content: bundle, type: 'module' });
  await page.waitForFunction('window.hotledger !== undefined', { timeout: 5_000 });
  return { browser, page, errors };
}
