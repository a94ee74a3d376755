import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { connect, type Socket } from 'node:net';
import { createRequire } from 'node:module';
import { startApi, transfer, getJson, type ApiHarness } from './support/api.js';
import { inspectUws, loadUws } from '../../src/api/uws.js';
import { TX_SIZE } from '../../src/tx/layout.js';

const require = createRequire(import.meta.url);
let h: ApiHarness;
beforeAll(async () => {
  // 40 half-sent bodies at once from one address: above the default per-client cap of 32.
  h = await startApi({ overrides: { api: { maxBodyBytes: 64 * 1024, maxConcurrentBodiesPerAddress: 64 } } });
});
afterAll(async () => {
  await h?.close();
});

function raw(port: number): Promise<Socket> {
  return new Promise((res, rej) => {
    const s = connect(port, '127.0.0.1', () => res(s));
    s.on('error', rej);
  });
}

/** Sends `data` and collects whatever comes back until the server closes or `ms` pass. */
async function exchange(port: number, data: string | Buffer, ms = 2000): Promise<string> {
  const s = await raw(port);
  return new Promise((res) => {
    let out = '';
    const t = setTimeout(() => {
      s.destroy();
      res(out);
    }, ms);
    s.on('data', (d) => {
      out += d.toString('latin1');
      if (/\r\n\r\n/.test(out) && /content-length: (\d+)/i.test(out)) {
        const len = Number(/content-length: (\d+)/i.exec(out)![1]);
        if (out.length - out.indexOf('\r\n\r\n') - 4 >= len) {
          clearTimeout(t);
          s.destroy();
          res(out);
        }
      }
    });
    s.on('close', () => {
      clearTimeout(t);
      res(out);
    });
    s.on('error', () => undefined);
    s.write(data);
  });
}

async function abortedCount(): Promise<number> {
  const text = await (await fetch(`${h.base}/q/metrics`)).text();
  return [...text.matchAll(/^hotledger_http_aborted_total\{[^}]*\} (\d+)/gm)].reduce((s, m) => s + Number(m[1]), 0);
}

describe('native uWebSockets.js', () => {
  test('the running server is the native binding, not the pure-JS fallback', () => {
    expect(h.server.binding.native).toBe(true);
    expect(h.server.binding.binary).toMatch(/uws_linux_x64_\d+\.node$|uws_[a-z0-9]+_[a-z0-9]+_\d+\.node$/);
    const { uws } = loadUws();
    expect(Function.prototype.toString.call(uws.App)).toContain('[native code]');
  });

  test('the fallback export and UWS_USE_FALLBACK are recognised and refused', () => {
    const fallback = require('uWebSockets.js/dist/index.js') as unknown;
    expect(inspectUws(fallback, {}).native).toBe(false);
    expect(inspectUws(loadUws().uws, { UWS_USE_FALLBACK: 'true' }).native).toBe(false);
    expect(inspectUws(loadUws().uws, {}).native).toBe(true);
  });
});

describe('aborted, partial and slow requests', () => {
  test('half-sent bodies then abrupt disconnects do not crash or wedge the server', async () => {
    const before = await abortedCount();
    const tx = transfer(h.tn, 0, 1, 1);
    await Promise.all(
      Array.from({ length: 40 }, async (_, i) => {
        const s = await raw(h.server.port);
        s.on('error', () => undefined);
        const head = `POST /api/v11/transactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${TX_SIZE * 10}\r\n\r\n`;
        s.write(i % 2 === 0 ? head + tx.toString('latin1').slice(0, 50) : head);
        await new Promise((r) => setTimeout(r, 20));
        s.destroy();
      }),
    );
    await new Promise((r) => setTimeout(r, 100));
    expect(await abortedCount()).toBeGreaterThanOrEqual(before + 40);
    expect((await getJson(`${h.base}/q/health/live`)).status).toBe(200);
    const ok = await fetch(`${h.base}/api/v11/transactions`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: tx });
    expect(ok.status).toBe(202);
  });

  test('an aborted async route (metrics) and a destroyed chunked upload are survived', async () => {
    for (let i = 0; i < 20; i++) {
      const s = await raw(h.server.port);
      s.on('error', () => undefined);
      s.write('GET /q/metrics HTTP/1.1\r\nHost: x\r\n\r\n');
      s.destroy();
      const c = await raw(h.server.port);
      c.on('error', () => undefined);
      c.write('POST /api/v11/transactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n[{"ch\r\n');
      c.destroy();
    }
    expect((await getJson(`${h.base}/api/v11/stats`)).status).toBe(200);
  });

  test('garbage on the wire gets the connection closed, the server lives on', async () => {
    await exchange(h.server.port, 'NOT HTTP AT ALL\r\n\0\0\0\r\n\r\n', 500);
    await exchange(h.server.port, Buffer.alloc(10_000, 0xff), 500);
    expect((await getJson(`${h.base}/q/health/live`)).status).toBe(200);
  });

  test('a slow client that trickles its body gets a proper answer', async () => {
    const tx = transfer(h.tn, 1, 2, 1);
    const s = await raw(h.server.port);
    const reply = new Promise<string>((res) => {
      let out = '';
      s.on('data', (d) => {
        out += d.toString();
        if (out.includes('}')) res(out);
      });
    });
    s.write(`POST /api/v11/transactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${TX_SIZE}\r\n\r\n`);
    for (let off = 0; off < TX_SIZE; off += 24) {
      s.write(tx.subarray(off, off + 24));
      await new Promise((r) => setTimeout(r, 15));
    }
    const out = await reply;
    s.destroy();
    expect(out).toMatch(/^HTTP\/1\.1 202/);
    expect(out).toContain('"accepted":1');
  });

  test('oversized body streamed without Content-Length → 413 before it is all sent', async () => {
    const out = await exchange(
      h.server.port,
      `POST /api/v11/transactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n` +
        `${(80 * 1024).toString(16)}\r\n${'a'.repeat(80 * 1024)}\r\n`,
      2000,
    );
    expect(out).toMatch(/^HTTP\/1\.1 413/);
    expect(out).toContain('PAYLOAD_TOO_LARGE');
  });

  test('declared Content-Length over the limit → 413 at once, without reading the body', async () => {
    const out = await exchange(
      h.server.port,
      `POST /api/v11/transactions HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\nContent-Length: ${10 * 1024 * 1024}\r\n\r\n`,
      2000,
    );
    expect(out).toMatch(/^HTTP\/1\.1 413/);
  });
});
