import type { BlockView, ConsensusStatus, NodeStats } from '../node/node-api.js';

/** Small helpers over a validator's HTTP API, shared by the cluster bench and tests. */

export async function getJson<T>(url: string, timeoutMs = 5_000): Promise<T> {
  let r: Response;
  try {
    r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch {
    // A pooled keep-alive socket may have been closed by the server's idle timeout: retry once.
    r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  }
  if (!r.ok) throw new Error(`GET ${url}: HTTP ${r.status} ${(await r.text()).slice(0, 200)}`);
  return (await r.json()) as T;
}

/** GET that answers undefined instead of throwing (a validator that is down or has no block yet). */
export async function tryGetJson<T>(url: string, timeoutMs = 2_000): Promise<T | undefined> {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    return r.ok ? ((await r.json()) as T) : undefined;
  } catch {
    return undefined;
  }
}

export interface SubmitAnswer {
  status: number;
  accepted: number;
  rejected: number;
  codes: string[];
}

/** POST a concatenation of binary transactions; never throws on a non-2xx answer. */
export async function postTxs(base: string, txs: Buffer, timeoutMs = 30_000): Promise<SubmitAnswer> {
  const r = await fetch(`${base}/api/v11/transactions?results=rejected`, {
    method: 'POST',
    body: txs,
    headers: { 'content-type': 'application/octet-stream' },
    signal: AbortSignal.timeout(timeoutMs),
  });
  const j = (await r.json().catch(() => ({}))) as {
    accepted?: number;
    rejected?: number;
    results?: { code?: string }[];
    error?: { accepted?: number; rejected?: number; results?: { code?: string }[] };
  };
  const body = j.error ?? j;
  return { status: r.status, accepted: body.accepted ?? 0, rejected: body.rejected ?? 0, codes: (body.results ?? []).map((x) => x.code ?? '').filter(Boolean) };
}

export const stats = (base: string) => getJson<NodeStats>(`${base}/api/v11/stats`);
export const consensusStatus = (base: string) => getJson<ConsensusStatus>(`${base}/api/v11/consensus/status`);
export const latestBlock = (base: string) => tryGetJson<BlockView>(`${base}/api/v11/blocks/latest`);

/** Rounds this validator timed out, read from the consensus status note ("view changes N"). */
export function viewChangesOf(s: ConsensusStatus): number | undefined {
  const m = /view changes (\d+)/.exec(s.note ?? '');
  return m ? Number(m[1]) : undefined;
}
