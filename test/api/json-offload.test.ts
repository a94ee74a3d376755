import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { startApi, transfer, postTx, type ApiHarness } from './support/api.js';
import { jsonBodyToTxs, transferToJson } from '../../src/api/tx-json.js';

/**
 * The API and the node's consensus loop share the main thread. A maximal JSON submission (a body
 * of api.maxBodyBytes, ~88,000 transfers) must not hold that thread: parsing and converting it
 * happens off the main thread.
 */
let h: ApiHarness;
beforeAll(async () => {
  h = await startApi({ overrides: { api: { maxBodyBytes: 32 * 1024 * 1024 } } });
});
afterAll(async () => {
  await h?.close();
});

/** Longest gap between 2 ms timer ticks on this thread while `run` is pending. */
async function longestStall(run: () => Promise<unknown>): Promise<number> {
  let last = performance.now();
  let worst = 0;
  let on = true;
  const tick = (): void => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
    if (on) setTimeout(tick, 2);
  };
  setTimeout(tick, 2);
  try {
    await run();
  } finally {
    on = false;
  }
  return worst;
}

/** A JSON array of transfers as large as the body limit allows (wrong chain: cheap to refuse). */
function maximalJsonBody(limit: number): { body: string; count: number } {
  const base = transferToJson(transfer(h.tn, 0, 1, 1));
  base.chainId = h.tn.chainId + 1;
  const one = JSON.stringify(base).length + 1;
  const count = Math.floor((limit - 2) / (one + 8));
  const parts: string[] = new Array(count);
  for (let i = 0; i < count; i++) parts[i] = JSON.stringify({ ...base, nonce: String(i + 1) });
  return { body: `[${parts.join(',')}]`, count };
}

describe('large JSON submissions and the event loop', () => {
  test('a maximal JSON submission stalls the main thread about as long as the same transactions in binary', async () => {
    const { body: text, count } = maximalJsonBody(h.tn.config.api.maxBodyBytes);
    expect(text.length).toBeLessThanOrEqual(h.tn.config.api.maxBodyBytes);
    expect(count).toBeGreaterThan(50_000);
    // Encoded before measuring: the client shares this thread, its own work must not count.
    const body = Buffer.from(text);
    const binary = jsonBodyToTxs(body, 1_000_000);
    // What parsing that body costs on this thread now (the conversion comes on top of it).
    const t0 = performance.now();
    JSON.parse(text);
    const parseMs = performance.now() - t0;
    const submit = async (b: Buffer, type: string) => {
      const r = await postTx(h.base, b, type, '?results=none');
      expect(r.status, JSON.stringify(r.body).slice(0, 300)).toBe(422);
      expect(r.body.error.rejected).toBe(count);
    };
    // The node's own admission of these transactions runs on this thread in both encodings.
    const binaryStall = await longestStall(() => submit(binary, 'application/octet-stream'));
    const jsonStall = await longestStall(() => submit(body, 'application/json'));
    process.stderr.write(
      `maximal JSON submission: ${count} txs, ${(body.length / 1048576).toFixed(1)} MiB; longest main-thread stall ${jsonStall.toFixed(0)} ms ` +
        `(same txs in binary ${binaryStall.toFixed(0)} ms; JSON.parse alone on this thread ${parseMs.toFixed(0)} ms)\n`,
    );
    // Parsed and converted on the main thread (the old code), the JSON stall was the binary one plus
    // the parse plus the conversion: ~1,000 ms more here. Off the main thread it adds next to nothing.
    expect(jsonStall).toBeLessThan(binaryStall + Math.max(150, parseMs / 2));
  }, 180_000);
});
