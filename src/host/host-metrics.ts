import { Counter, Gauge, type Registry } from 'prom-client';
import type { SharedVerifier } from './shared-verifier.js';

/**
 * The process's shared verification, exposed on every hosted node's /q/metrics (the same figures
 * on each: they count the process, not the node).
 */
export function registerHostMetrics(registry: Registry, verifier: SharedVerifier, hostedNodes: number): void {
  new Counter({
    name: 'hotledger_host_batch_verifications_total',
    help: 'Peer-batch verifications in this host process: requested by its nodes, and run on the shared pool (the rest joined a running one or hit the cache)',
    labelNames: ['kind'],
    registers: [registry],
    collect() {
      const s = verifier.stats;
      this.reset();
      this.inc({ kind: 'requested' }, s.requested);
      this.inc({ kind: 'run' }, s.run);
      this.inc({ kind: 'joined' }, s.joined);
      this.inc({ kind: 'cached' }, s.cached);
    },
  });
  new Gauge({ name: 'hotledger_host_nodes', help: 'Logical nodes hosted by this process', registers: [registry] }).set(hostedNodes);
}
