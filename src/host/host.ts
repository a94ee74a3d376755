import type { Logger } from 'pino';
import { VerifyPool } from '../pipeline/verify-pool.js';
import { LedgerThread } from '../pipeline/ledger-thread.js';
import type { HostPlan } from './host-config.js';
import { registerHostMetrics } from './host-metrics.js';
import { serveNode, type ServedNode } from './serve-node.js';
import { SharedVerifier } from './shared-verifier.js';

export interface RunningHost {
  readonly nodes: readonly ServedNode[];
  readonly verifier: SharedVerifier;
  /** The one ledger thread of the process: every node's ledger runs on it. */
  readonly ledgerThread: LedgerThread;
  /** Every node (API, then node), then the shared pool and ledger thread last: no node may verify or write on a closed one. */
  close(): Promise<void>;
}

/**
 * K logical nodes in this process on one verify pool. Nodes start one after another (each opens
 * its stores and listens); if one cannot start, those already started are closed and the error
 * is thrown, so a host never runs with part of its nodes.
 */
export async function startHost(plan: HostPlan, logger: Logger): Promise<RunningHost> {
  const { verify } = plan.host;
  const verifier = new SharedVerifier(new VerifyPool({ threads: verify.threads, chunkSize: verify.chunkSize }), { cacheBatches: verify.cacheBatches });
  // One ledger thread for all: each node's ledger is its own (state, LMDB writer, order), the
  // V8 isolate under them is paid once (docs/cluster.md, "Memory per logical node").
  const ledgerThread = new LedgerThread();
  const nodes: ServedNode[] = [];
  const closeAll = async () => {
    await Promise.allSettled(nodes.map((n) => n.close()));
    await verifier.close();
    await ledgerThread.close();
  };
  try {
    for (const config of plan.nodes) {
      // Each node logs at its own log.level; the root logger is at the most verbose of them.
      const served = await serveNode(config, logger.child({ node: config.node.id }, { level: config.log.level }), { verifier, ledgerThread });
      nodes.push(served);
      registerHostMetrics(served.node.metrics, verifier, plan.nodes.length);
    }
  } catch (e) {
    await closeAll();
    throw e;
  }
  let closing: Promise<void> | undefined;
  return { nodes, verifier, ledgerThread, close: () => (closing ??= closeAll()) };
}
