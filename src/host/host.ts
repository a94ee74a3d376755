import type { Logger } from 'pino';
import { VerifyPool } from '../pipeline/verify-pool.js';
import type { HostPlan } from './host-config.js';
import { registerHostMetrics } from './host-metrics.js';
import { serveNode, type ServedNode } from './serve-node.js';
import { SharedVerifier } from './shared-verifier.js';

export interface RunningHost {
  readonly nodes: readonly ServedNode[];
  readonly verifier: SharedVerifier;
  /** Every node (API, then node), then the shared pool last: no node may verify on a closed pool. */
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
  const nodes: ServedNode[] = [];
  const closeAll = async () => {
    await Promise.allSettled(nodes.map((n) => n.close()));
    await verifier.close();
  };
  try {
    for (const config of plan.nodes) {
      // Each node logs at its own log.level; the root logger is at the most verbose of them.
      const served = await serveNode(config, logger.child({ node: config.node.id }, { level: config.log.level }), { verifier });
      nodes.push(served);
      registerHostMetrics(served.node.metrics, verifier, plan.nodes.length);
    }
  } catch (e) {
    await closeAll();
    throw e;
  }
  let closing: Promise<void> | undefined;
  return { nodes, verifier, close: () => (closing ??= closeAll()) };
}
