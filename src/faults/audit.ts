import WebSocket from 'ws';
import { getJson, tryGetJson } from '../cluster/http.js';
import type { BlockView, TxStatusView } from '../node/node-api.js';

/**
 * The ledger's promises, checked against validators' HTTP and WebSocket APIs only (never their
 * files): every acknowledged transaction is committed, block hashes and state roots agree at each
 * height, and the sum of all balances equals the genesis supply.
 */

/** Ids (hex) not committed on the validator at `base`, asked in chunks over one WebSocket `watch` each. */
export async function notCommitted(base: string, ids: string[], timeoutMs = 30_000): Promise<{ missing: string[]; statuses: Map<string, string> }> {
  const missing: string[] = [];
  const statuses = new Map<string, string>();
  const CHUNK = 5_000;
  for (let k = 0; k < ids.length; k += CHUNK) {
    const chunk = ids.slice(k, k + CHUNK);
    const answers = await watchOnce(base, chunk, timeoutMs);
    for (const id of chunk) {
      const s = answers.get(id);
      if (s !== 'committed') {
        missing.push(id);
        statuses.set(id, s ?? 'pending or unknown');
      }
    }
  }
  return { missing, statuses };
}

/** One connection: `watch` answers decided ids at once; ids still pending stay unanswered. */
function watchOnce(base: string, ids: string[], timeoutMs: number): Promise<Map<string, string>> {
  return new Promise((resolve, reject) => {
    const out = new Map<string, string>();
    const ws = new WebSocket(`${base.replace(/^http/, 'ws')}/api/v11/ws`);
    let expected = -1;
    const done = () => {
      clearTimeout(t);
      ws.terminate();
      resolve(out);
    };
    const t = setTimeout(() => {
      if (out.size > 0 || expected >= 0) return done();
      ws.terminate();
      reject(new Error(`no answer to watch from ${base} within ${timeoutMs} ms`));
    }, timeoutMs);
    ws.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    ws.on('open', () => ws.send(JSON.stringify({ op: 'watch', ids })));
    ws.on('message', (data) => {
      const m = JSON.parse(String(data)) as { type: string; id?: string; status?: string; code?: string; count?: number; message?: string };
      if (m.type === 'error') {
        clearTimeout(t);
        ws.terminate();
        reject(new Error(`watch on ${base}: ${m.message}`));
        return;
      }
      if (m.type === 'watching') expected = ids.length - (m.count ?? 0);
      else if (m.type === 'tx' && m.id) out.set(m.id, m.status === 'rejected' ? `rejected ${m.code}` : (m.status ?? '?'));
      if (expected >= 0 && out.size >= expected) done();
    });
  });
}

/** Status of one tx on one validator ('committed', 'rejected CODE', 'pending', or 'unknown'). */
export async function txStatus(base: string, id: string): Promise<string> {
  const s = await tryGetJson<TxStatusView>(`${base}/api/v11/transactions/${id}`);
  if (!s) return 'unknown';
  return s.status === 'rejected' ? `rejected ${s.code}` : s.status;
}

/**
 * Block hash and state root of each validator at every height it has not been checked at yet,
 * against the first answer seen for that height. Returns the disagreements.
 */
export class RootLedger {
  private readonly ref = new Map<number, { hash: string; stateRoot: string; from: string }>();
  private readonly checked = new Map<string, number>();

  /** Forget what was checked on `base` (its data dir was wiped: check its new chain from genesis). */
  forget(base: string): void {
    this.checked.delete(base);
  }

  async check(base: string, upTo: number, label: string): Promise<string[]> {
    const from = (this.checked.get(base) ?? 0) + 1;
    const bad: string[] = [];
    const heights = Array.from({ length: Math.max(0, upTo - from + 1) }, (_, k) => from + k);
    for (let k = 0; k < heights.length; k += 32) {
      const views = await Promise.all(heights.slice(k, k + 32).map((h) => getJson<BlockView>(`${base}/api/v11/blocks/${h}`)));
      for (const v of views) {
        const r = this.ref.get(v.height);
        if (!r) this.ref.set(v.height, { hash: v.hash, stateRoot: v.stateRoot, from: label });
        else if (r.hash !== v.hash || r.stateRoot !== v.stateRoot) {
          bad.push(`height ${v.height}: ${label} has ${v.hash.slice(0, 12)}/${v.stateRoot.slice(0, 12)}, ${r.from} had ${r.hash.slice(0, 12)}/${r.stateRoot.slice(0, 12)}`);
        }
      }
    }
    this.checked.set(base, Math.max(this.checked.get(base) ?? 0, upTo));
    return bad;
  }
}

/** Sum of the balances of `accounts` (hex public keys) on one validator. */
export async function balanceSum(base: string, accounts: string[]): Promise<number> {
  let sum = 0;
  for (let k = 0; k < accounts.length; k += 32) {
    const got = await Promise.all(accounts.slice(k, k + 32).map((pk) => tryGetJson<{ balance: string }>(`${base}/api/v11/accounts/${pk}`)));
    for (const a of got) sum += a ? Number(a.balance) : 0;
  }
  return sum;
}
