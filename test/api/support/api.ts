import { pino } from 'pino';
import { startApiServer, type ApiServer } from '../../../src/api/server.js';
import type { NodeApi } from '../../../src/node/node-api.js';
import type { KeyPair } from '../../../src/crypto/keys.js';
import { signTransfer } from '../../../src/tx/sign.js';
import { TX_SIZE } from '../../../src/tx/layout.js';
import { startTestNode, type TestNode } from './test-node.js';

export interface ApiHarness {
  tn: TestNode;
  server: ApiServer;
  base: string;
  close(): Promise<void>;
}

/**
 * A test node (via startTestNode) behind a real uWS server on 127.0.0.1 and an ephemeral port.
 * `wrap` may decorate the NodeApi (e.g. force MEMPOOL_FULL) to reach error paths deterministically.
 */
export async function startApi(opts: { overrides?: Record<string, unknown>; wrap?: (n: NodeApi) => NodeApi } = {}): Promise<ApiHarness> {
  const tn = await startTestNode(opts.overrides);
  const api = opts.wrap ? opts.wrap(tn.node) : tn.node;
  const server = await startApiServer(api, tn.config.api, pino({ level: 'silent' }));
  return {
    tn,
    server,
    base: `http://127.0.0.1:${server.port}`,
    close: async () => {
      await server.close();
      await tn.close();
    },
  };
}

/** Delegates every NodeApi member to `node`, replacing the ones given. */
export function override(node: NodeApi, parts: Partial<NodeApi>): NodeApi {
  return {
    info: () => node.info(),
    stats: () => node.stats(),
    consensusStatus: () => node.consensusStatus(),
    submit: (t) => node.submit(t),
    getTransaction: (id) => node.getTransaction(id),
    getBlock: (h) => node.getBlock(h),
    getAccount: (pk) => node.getAccount(pk),
    getContract: (a, k) => node.getContract(a, k),
    health: () => node.health(),
    onBlock: (l) => node.onBlock(l),
    metrics: node.metrics,
    ...parts,
  };
}

export function transfer(tn: TestNode, from: number, to: number, nonce: number, amount = 10): Buffer {
  const sender = tn.keys[from]!;
  return signTransfer({ chainId: tn.chainId, sender: sender.publicKey, recipient: tn.keys[to]!.publicKey, amount, nonce }, sender.seed);
}

export function hex(u: Uint8Array): string {
  return Buffer.from(u).toString('hex');
}

export function txCount(buf: Buffer): number {
  return buf.length / TX_SIZE;
}

export async function waitFor<T>(f: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await f();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function getJson(url: string): Promise<{ status: number; body: any; headers: Headers }> {
  const r = await fetch(url);
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : undefined, headers: r.headers };
}

export async function postTx(base: string, body: Buffer | string, contentType: string, query = ''): Promise<{ status: number; body: any; headers: Headers }> {
  const r = await fetch(`${base}/api/v11/transactions${query}`, { method: 'POST', headers: { 'content-type': contentType }, body });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : undefined, headers: r.headers };
}

export type { KeyPair };
