/**
 * The WebSocket of the platform (browsers, Node 22) or the `ws` package (Node 20), both WHATWG-shaped.
 * Browser bundles never reach the `ws` import: package.json `browser` maps it to nothing.
 */
export interface MinimalSocket {
  send(data: string | Uint8Array): void;
  close(): void;
  readyState: number;
  addEventListener(type: 'open' | 'close' | 'error' | 'message', f: (ev: { data?: unknown; message?: string }) => void): void;
}

export async function openSocket(httpBase: string, timeoutMs: number): Promise<MinimalSocket> {
  const url = `${httpBase.replace(/^http/, 'ws')}/api/v11/ws`;
  const Ctor: new (url: string) => MinimalSocket =
    (globalThis as unknown as { WebSocket?: new (url: string) => MinimalSocket }).WebSocket ?? ((await import('ws')).default as unknown as new (url: string) => MinimalSocket);
  const ws = new Ctor(url);
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => {
      reject(new Error(`${url}: WebSocket not open within ${timeoutMs} ms`));
      ws.close();
    }, timeoutMs);
    ws.addEventListener('open', () => {
      clearTimeout(t);
      resolve();
    });
    ws.addEventListener('error', (e: { message?: string }) => {
      clearTimeout(t);
      reject(new Error(`${url}: ${e?.message ?? 'WebSocket error'}`));
    });
  });
  return ws;
}

const utf8 = new TextDecoder();

export function textOf(data: unknown): string {
  return typeof data === 'string' ? data : utf8.decode(data as Uint8Array | ArrayBuffer);
}
