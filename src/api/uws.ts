import { createRequire } from 'node:module';
import { HotledgerError } from '../errors.js';
import type * as UwsTypes from 'uWebSockets.js';

export type Uws = typeof UwsTypes;
export type { HttpRequest, HttpResponse, TemplatedApp, WebSocket, us_listen_socket } from 'uWebSockets.js';

const require = createRequire(import.meta.url);

/** What `loadUws` found, for logs, the health check and tests. */
export interface UwsBinding {
  native: boolean;
  /** Path of the loaded `.node` binary, when native. */
  binary: string | undefined;
  reason: string | undefined;
}

let cached: { uws: Uws; binding: UwsBinding } | undefined;

const FALLBACK_FLAG = /^(true|1)$/i;

/**
 * Inspects a loaded uWebSockets.js export. The republished package silently falls back to a slow
 * pure-JS implementation (its `dist/`) when `binaries/uws_<platform>_<arch>_<abi>.node` does not load,
 * or when `UWS_USE_FALLBACK` is set. Three independent signals must all say "native":
 * the flag is unset, `App` is a native function, and a uws `.node` binary sits in the require cache.
 */
export function inspectUws(uws: unknown, env: NodeJS.ProcessEnv = process.env): UwsBinding {
  const flag = env.UWS_USE_FALLBACK;
  if (flag !== undefined && FALLBACK_FLAG.test(flag.trim())) {
    return { native: false, binary: undefined, reason: `UWS_USE_FALLBACK=${flag} forces the pure-JS fallback` };
  }
  const app = (uws as { App?: unknown } | null)?.App;
  if (typeof app !== 'function' || !/\{\s*\[native code\]\s*\}\s*$/.test(Function.prototype.toString.call(app))) {
    return { native: false, binary: undefined, reason: 'uWebSockets.js App() is not the native binding (pure-JS fallback loaded)' };
  }
  const binary = Object.keys(require.cache).find((k) => /[\\/]uws_[a-z0-9]+_[a-z0-9]+_\d+\.node$/.test(k));
  if (!binary) {
    return { native: false, binary: undefined, reason: 'no uws_*.node binary is loaded' };
  }
  return { native: true, binary, reason: undefined };
}

/**
 * Loads uWebSockets.js and refuses to go on with the pure-JS fallback: it is an order of magnitude
 * slower and behaves differently under load, so a node would silently miss its numbers.
 */
export function loadUws(): { uws: Uws; binding: UwsBinding } {
  if (cached) return cached;
  const expected = `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`;
  let uws: Uws;
  const warn = console.warn;
  const log = console.log;
  const captured: string[] = [];
  // The package prints its own fallback warning; capture it so our error carries the cause.
  console.warn = (...a: unknown[]) => void captured.push(a.map(String).join(' '));
  console.log = (...a: unknown[]) => void captured.push(a.map(String).join(' '));
  try {
    uws = require('uWebSockets.js') as Uws;
  } catch (e) {
    throw new HotledgerError('NATIVE_MODULE_MISSING', `uWebSockets.js could not be loaded: ${(e as Error).message}`);
  } finally {
    console.warn = warn;
    console.log = log;
  }
  const binding = inspectUws(uws);
  if (!binding.native) {
    const cause = captured.join(' ').replace(/\s+/g, ' ').trim();
    throw new HotledgerError(
      'NATIVE_MODULE_MISSING',
      `the native uWebSockets.js binary did not load (${binding.reason}); expected node_modules/uWebSockets.js/binaries/${expected} ` +
        `for Node ${process.version} (ABI ${process.versions.modules}) on ${process.platform}/${process.arch}. ` +
        `hotledger refuses to serve on the slow pure-JS fallback.${cause ? ` Loader said: ${cause}` : ''}`,
      { expected, reason: binding.reason },
    );
  }
  cached = { uws, binding };
  return cached;
}
