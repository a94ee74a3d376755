import type { ClusterRole } from '../cluster/topology.js';

/**
 * Resources of one process (container, pod) per role, from what was measured on this project's
 * 2-core VM (docs/cluster.md, option-b, 2026-11): idle RSS 5 s after ready of 209-212 MB for a
 * validator process of 5 nodes, 183-187 MB for a business process of 4, 142-164 MB for a slim
 * process of 2-3: about 43, 47 and at most 82 MB per node (164 MB over 2, as the split of slim processes by size was not recorded). The request is that idle figure rounded up
 * per node; the limit leaves room for mempools and batches under load, which was NOT measured per
 * container: it is headroom (4x the request), not a measurement. CPU was not measured per
 * container either: the request is one core per validator process (every validator verifies every
 * batch), half for a business process, a quarter for a slim one, limits twice that.
 */
export const MEASURED_IDLE_MB_PER_NODE: Readonly<Record<ClusterRole, number>> = { validator: 43, business: 47, slim: 82 };

export const CPU_REQUEST: Readonly<Record<ClusterRole, number>> = { validator: 1, business: 0.5, slim: 0.25 };

export const MEMORY_LIMIT_FACTOR = 4;

export interface ProcessResources {
  /** MiB */
  memoryRequestMb: number;
  memoryLimitMb: number;
  cpuRequest: number;
  cpuLimit: number;
}

/** Request and limit of a process of `nodes` logical nodes of `role`. */
export function processResources(role: ClusterRole, nodes: number): ProcessResources {
  // 64 MiB steps keep the numbers readable and above the measured figure.
  const memoryRequestMb = Math.ceil((MEASURED_IDLE_MB_PER_NODE[role] * nodes) / 64) * 64;
  return { memoryRequestMb, memoryLimitMb: memoryRequestMb * MEMORY_LIMIT_FACTOR, cpuRequest: CPU_REQUEST[role], cpuLimit: CPU_REQUEST[role] * 2 };
}
