import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** The node's own Prometheus metrics; the API adds HTTP metrics and process metrics to the same registry. */
export function createNodeMetrics(registry: Registry, collectLive: () => void, verifiedTxs: () => number = () => 0) {
  const r = [registry];
  return {
    // Read live state once per scrape, before the text is rendered.
    live: new Gauge({
      name: 'hotledger_up',
      help: 'Always 1; updates the live-state gauges on each scrape',
      registers: r,
      collect() {
        collectLive();
        this.set(1);
      },
    }),
    committed: new Counter({ name: 'hotledger_tx_committed_total', help: 'Transactions committed in durable blocks', registers: r }),
    rejected: new Counter({ name: 'hotledger_tx_rejected_total', help: 'Transactions rejected, by stage and reason', labelNames: ['stage', 'reason'] as const, registers: r }),
    admitted: new Counter({ name: 'hotledger_tx_admitted_total', help: 'Transactions admitted to the mempool', registers: r }),
    height: new Gauge({ name: 'hotledger_block_height', help: 'Height of the last durable block', registers: r }),
    tps: new Gauge({ name: 'hotledger_tps', help: 'Committed transactions per second', labelNames: ['window'] as const, registers: r }),
    mempoolSize: new Gauge({ name: 'hotledger_mempool_size', help: 'Pending transactions', registers: r }),
    mempoolReady: new Gauge({ name: 'hotledger_mempool_ready', help: 'Transactions ready to be sealed', registers: r }),
    mempoolCapacity: new Gauge({ name: 'hotledger_mempool_capacity', help: 'Mempool capacity', registers: r }),
    // Read from the verify pool, where the work is done: a host's nodes share one pool, so each of
    // them shows the process's count (scrape one node per process, never sum a host's nodes).
    signaturesVerified: new Counter({
      name: 'hotledger_signatures_verified_total',
      help: 'Transactions whose signature this process checked (on its verify pool, shared by every node of a host process); verdicts reused from the shared verifier are not counted',
      registers: r,
      collect() {
        this.reset();
        this.inc(verifiedTxs());
      },
    }),
    poolQueue: new Gauge({ name: 'hotledger_verify_pool_queue_depth', help: 'Verification chunks waiting for a worker', registers: r }),
    poolUtilization: new Gauge({ name: 'hotledger_verify_pool_utilization', help: 'Share of verify worker capacity in use (0..1)', registers: r }),
    inflightBatches: new Gauge({ name: 'hotledger_inflight_batches', help: 'Sealed batches not yet durable', registers: r }),
    batchSize: new Histogram({
      name: 'hotledger_batch_size',
      help: 'Transactions per sealed batch',
      buckets: [1, 10, 100, 1_000, 5_000, 10_000, 25_000, 50_000, 100_000],
      registers: r,
    }),
    latency: new Histogram({
      name: 'hotledger_commit_latency_seconds',
      help: 'Submission to durable commit',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.125, 0.25, 0.5, 1, 2.5, 5],
      registers: r,
    }),
    stageSeconds: new Histogram({
      name: 'hotledger_stage_seconds',
      help: 'Time a local batch (or a consensus step) spends in each stage: mempool, verify, order, apply; propose, commit, safety_fsync on validators',
      labelNames: ['stage'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: r,
    }),
    verifySeconds: new Histogram({ name: 'hotledger_verify_seconds', help: 'Verification time of one batch', buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5], registers: r }),
    executeSeconds: new Histogram({ name: 'hotledger_execute_seconds', help: 'Execution time of one block', buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5], registers: r }),
    persistSeconds: new Histogram({
      name: 'hotledger_lmdb_write_seconds',
      help: 'LMDB write until durable, one block',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: r,
    }),
    consensusRound: new Gauge({ name: 'hotledger_consensus_round', help: 'Current consensus round (0 for the solo sequencer)', registers: r }),
    consensusViewChanges: new Gauge({ name: 'hotledger_consensus_view_changes_total', help: 'Rounds this validator timed out', registers: r }),
    consensusEquivocations: new Gauge({
      name: 'hotledger_consensus_equivocations_total',
      help: 'Equivocations (two proposals or votes for one round from one key) detected',
      registers: r,
    }),
    peerDrops: new Counter({
      name: 'hotledger_peer_messages_dropped_total',
      help: 'Peer messages dropped: malformed, faulty batches (static-rule, bad-signature), over a bound',
      labelNames: ['peer', 'reason'] as const,
      registers: r,
    }),
    consensusPeers: new Gauge({ name: 'hotledger_consensus_connected_peers', help: 'Validators with an authenticated link to this one', registers: r }),
    cacheEntries: new Gauge({ name: 'hotledger_account_cache_entries', help: 'Accounts in the ledger thread cache', registers: r }),
  };
}

export type NodeMetrics = ReturnType<typeof createNodeMetrics>;
