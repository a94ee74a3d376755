/**
 * The pure parts of the end-to-end runner: comparisons, tolerance arithmetic and the report
 * table. No I/O, so each verdict can be checked against a wrong input in a unit test.
 */
import { faultTolerance } from '../consensus/types.js';
import type { ClusterRole, Topology } from '../cluster/topology.js';

export const E2E_CATEGORIES = ['connectivity', 'api', 'transactions', 'failover', 'consistency', 'performance'] as const;
export type E2eCategory = (typeof E2E_CATEGORIES)[number];

export interface CategoryResult {
  category: E2eCategory;
  pass: boolean;
  /** The measured figure, one line. */
  figure: string;
  seconds: number;
  /** Why it failed, with enough of the evidence to start looking (node ids, codes, log tails). */
  failures: string[];
  details: Record<string, unknown>;
}

/** One node's block at the compared height. */
export interface BlockAtHeight {
  node: string;
  height: number;
  hash: string;
  stateRoot: string;
}

export interface Agreement {
  agree: boolean;
  height: number;
  /** The (hash, state root) most nodes hold: the reference the others are compared with. */
  hash: string;
  stateRoot: string;
  nodes: number;
  /** Nodes that differ from the reference, each with what it holds. */
  mismatches: string[];
}

/**
 * Do all nodes hold the same block (hash and state root) at `height`? A node reporting another
 * height is a mismatch too: the comparison is only meaningful at one height.
 */
export function compareAtHeight(height: number, blocks: readonly BlockAtHeight[]): Agreement {
  const counts = new Map<string, number>();
  for (const b of blocks) {
    const k = `${b.hash}/${b.stateRoot}`;
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  let ref = '';
  let best = -1;
  for (const [k, c] of counts)
    if (c > best) {
      best = c;
      ref = k;
    }
  const [hash = '', stateRoot = ''] = ref.split('/');
  const mismatches = blocks
    .filter((b) => b.height !== height || b.hash !== hash || b.stateRoot !== stateRoot)
    .map((b) => `${b.node}: height ${b.height} hash ${b.hash.slice(0, 16)} stateRoot ${b.stateRoot.slice(0, 16)}`);
  return { agree: blocks.length > 0 && mismatches.length === 0, height, hash, stateRoot, nodes: blocks.length, mismatches };
}

/** What losing one process costs the validator set: does a quorum survive? */
export interface ProcessLoss {
  process: string;
  /** Logical nodes the process runs, every role. */
  nodes: string[];
  validatorsLost: number;
  validators: number;
  f: number;
  quorum: number;
  tolerated: boolean;
  /** Validators that may still fail after this loss with a quorum left (negative: none, short by that many). */
  spare: number;
}

export function processLoss(t: Topology, processId: string): ProcessLoss {
  const p = t.processes.find((x) => x.id === processId);
  const nodes = p ? p.nodes.map((i) => t.nodes[i]!) : [];
  const validators = t.validators.length;
  const { f, quorum } = faultTolerance(validators);
  const validatorsLost = nodes.filter((n) => n.role === 'validator').length;
  return {
    process: processId,
    nodes: nodes.map((n) => n.id),
    validatorsLost,
    validators,
    f,
    quorum,
    tolerated: validators - validatorsLost >= quorum,
    spare: validators - validatorsLost - quorum,
  };
}

/** A committed transfer as the client acknowledged it. */
export interface Acknowledged {
  id: string;
  height: number;
  sender: string;
}

/** Up to `count` acknowledgements picked at random, plus the last acknowledged of every sender. */
export function sampleAcknowledged(acks: readonly Acknowledged[], count: number, random: () => number = Math.random): Acknowledged[] {
  const picked = new Map<string, Acknowledged>();
  const last = new Map<string, Acknowledged>();
  for (const a of acks) last.set(a.sender, a);
  const pool = [...acks];
  for (let i = 0; i < Math.min(count, pool.length); i++) {
    const j = i + Math.floor(random() * (pool.length - i));
    [pool[i], pool[j]] = [pool[j]!, pool[i]!];
    picked.set(pool[i]!.id, pool[i]!);
  }
  for (const a of last.values()) picked.set(a.id, a);
  return [...picked.values()];
}

/** Where a node says a transaction is; `undefined` when it does not know it. */
export type TxSeen = { status: 'committed'; height: number } | { status: string; height?: number } | undefined;

/** The nodes on which an acknowledged transfer is missing or committed at another height. */
export function missingOn(ack: Acknowledged, seen: ReadonlyMap<string, TxSeen>): string[] {
  const out: string[] = [];
  for (const [node, s] of seen) {
    if (!s) out.push(`${node}: unknown`);
    else if (s.status !== 'committed') out.push(`${node}: ${s.status}`);
    else if (s.height !== ack.height) out.push(`${node}: committed at ${s.height}, acknowledged at ${ack.height}`);
  }
  return out;
}

export const rolesOf = (t: Topology, role: ClusterRole) => t.nodes.filter((n) => n.role === role);

/** The table printed at the end: one row per category. */
export function formatTable(results: readonly CategoryResult[]): string {
  const rows = results.map((r) => [r.category, r.pass ? 'PASS' : 'FAIL', r.figure, `${r.seconds.toFixed(1)} s`]);
  const head = ['category', 'result', 'figure', 'time'];
  const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(w[i]!)).join(' | ')} |`;
  return [line(head), `|${w.map((n) => '-'.repeat(n + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
