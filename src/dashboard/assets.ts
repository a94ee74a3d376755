import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Reply, Route } from '../api/router.js';
import { projectRoot } from '../runtime/module-path.js';

/** One file of the dashboard, held in memory with its validator. */
interface Asset {
  readonly paths: readonly string[];
  readonly contentType: string;
  readonly body: Buffer;
  readonly etag: string;
}

/** Where the page lives: `/` and `/dashboard` both answer the page; its files sit under `/dashboard/`. */
export const DASHBOARD_PAGE_PATHS = ['/', '/dashboard', '/dashboard/'] as const;

// The page talks only to its own node: scripts, styles and connections from the node's origin, no frames.
// uPlot positions its cursor and legend through element.style (CSSOM), which style-src does not govern.
const PAGE_CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

let loaded: readonly Asset[] | undefined;

/** Where the page imports the client from (app.js). */
const CLIENT_BUNDLE_PATH = '/dashboard/vendor/hotledger-client.js';

/**
 * Without a build (sources run directly) there is no bundle: the node still serves its API, and
 * the page says what is missing instead of failing on a 404.
 */
function clientBundleBody(file: string): Buffer {
  if (existsSync(file)) return readFileSync(file);
  return Buffer.from(`throw new Error(${JSON.stringify(`hotledger dashboard: ${file} is missing; run \`npm run build\``)});\n`);
}

/**
 * The dashboard's files, read from the package once per process (the first server to start) and
 * served from memory afterwards: a request never touches the disk. The chart library is uPlot from
 * the package's own dependencies, so the page works with no internet access.
 */
export function dashboardAssets(): readonly Asset[] {
  if (loaded) return loaded;
  // Beside this module: src/dashboard/static under vitest, dist/src/dashboard/static (copied by
  // `npm run build`) in the package and the production image, which ships dist/ without src/.
  const staticDir = fileURLToPath(new URL('./static/', import.meta.url));
  const uplotDir = join(dirname(createRequire(import.meta.url).resolve('uplot/package.json')), 'dist');
  // The browser bundle of `hotledger/client` is built, not written by hand: `npm run build` puts it
  // in dist/ only (src/client/build.ts), so under vitest it is read from there too.
  const clientBundle =
    [join(staticDir, 'vendor', 'hotledger-client.js'), join(projectRoot(), 'dist', 'src', 'dashboard', 'static', 'vendor', 'hotledger-client.js')].find((f) => existsSync(f)) ??
    join(staticDir, 'vendor', 'hotledger-client.js');
  const asset = (paths: readonly string[], file: string, contentType: string, body: Buffer = readFileSync(file)): Asset => {
    return { paths, contentType, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
  };
  loaded = [
    asset(DASHBOARD_PAGE_PATHS, join(staticDir, 'index.html'), 'text/html; charset=utf-8'),
    asset(['/dashboard/app.js'], join(staticDir, 'app.js'), 'text/javascript; charset=utf-8'),
    asset(['/dashboard/app.css'], join(staticDir, 'app.css'), 'text/css; charset=utf-8'),
    asset(['/dashboard/vendor/uPlot.iife.min.js'], join(uplotDir, 'uPlot.iife.min.js'), 'text/javascript; charset=utf-8'),
    asset(['/dashboard/vendor/uPlot.min.css'], join(uplotDir, 'uPlot.min.css'), 'text/css; charset=utf-8'),
    asset([CLIENT_BUNDLE_PATH], clientBundle, 'text/javascript; charset=utf-8', clientBundleBody(clientBundle)),
  ];
  return loaded;
}

/**
 * GET routes for the dashboard. Exact paths only, so they sit in the router's exact-match map and
 * the transaction routes are matched exactly as before. Every answer carries an ETag and
 * `Cache-Control: no-cache`: a reload revalidates and gets a bodiless 304 when nothing changed.
 */
export function dashboardRoutes(): Route[] {
  return dashboardAssets().flatMap((a) => {
    const headers: Record<string, string> = { ETag: a.etag, 'Cache-Control': 'no-cache', 'X-Content-Type-Options': 'nosniff' };
    if (a.contentType.startsWith('text/html')) Object.assign(headers, { 'Content-Security-Policy': PAGE_CSP, 'Referrer-Policy': 'no-referrer' });
    const full: Reply = { status: 200, body: a.body, contentType: a.contentType, headers };
    const notModified: Reply = { status: 304, body: '', contentType: a.contentType, headers };
    return a.paths.map(
      (pattern): Route => ({
        method: 'GET',
        pattern,
        conditional: true,
        handler: (ctx) => (ctx.ifNoneMatch !== undefined && etagMatches(ctx.ifNoneMatch, a.etag) ? notModified : full),
      }),
    );
  });
}

/** `If-None-Match` may list several validators, weak or strong, or `*`. */
function etagMatches(header: string, etag: string): boolean {
  return header.split(',').some((t) => {
    const v = t.trim();
    return v === '*' || v === etag || v === `W/${etag}`;
  });
}
