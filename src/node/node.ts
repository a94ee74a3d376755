import { performance } from 'node:perf_hooks';
import { pino, type Logger } from 'pino';
import { Registry } from 'prom-client';
import { HotledgerError, rejectName } from '../errors.js';
import type { Config } from '../config/schema.js';
import { genesisAccounts } from '../chain/genesis.js';
import { Mempool } from '../mempool/mempool.js';
import { LedgerClient } from '../pipeline/ledger-client.js';
import type { LedgerThread } from '../pipeline/ledger-thread.js';
import { Pipeline, type CommittedBlock } from '../pipeline/pipeline.js';
import { SoloOrderer, type Orderer, type VerifiedBatch } from '../ordering/orderer.js';
import { FOLLOW_CHUNK } from '../ordering/follower-core.js';
import { createMembership, type Membership } from './membership.js';
import { peersForQuorum, memberIdentity, type MemberIdentity } from './validator-set.js';
import { VerifyPool, type SignatureVerifier } from '../pipeline/verify-pool.js';
import { DataDirLock } from '../storage/data-dir-lock.js';
import { LedgerStore } from '../storage/ledger-store.js';
import { writeDevnetKeys } from './devnet-keys.js';
import { createNodeMetrics, type NodeMetrics } from './node-metrics.js';
import { Admission } from './admission.js';
import { RecentLatency, TpsWindow } from './stats.js';
import type {
  AccountView,
  AdmitResult,
  BlockView,
  CommittedBlockEvent,
  ConsensusStatus,
  ContractView,
  HealthCheck,
  HealthReport,
  NodeApi,
  NodeInfo,
  NodeStats,
  TxStatusView,
} from './node-api.js';
import { accountView, blockView, committedBlockEvent, consensusStatusView, contractView, nodeInfoView, storedTxView } from './views.js';

export interface RunningNode extends NodeApi {
  readonly config: Config;
  readonly logger: Logger;
  /** Key files of the funded devnet accounts (empty outside devnet). */
  readonly devnetKeyFiles: string[];
  /** Resolves when everything admitted so far is durable or rejected. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

export interface StartOptions {
  logger?: Logger;
  /**
   * Signature verification shared with other nodes of this process (src/host): used instead of a
   * pool of the node's own, and left open when the node closes (its owner closes it).
   */
  verifier?: SignatureVerifier;
  /** A ledger thread shared with other nodes of this process (src/host); its owner closes it. */
  ledgerThread?: LedgerThread;
}

export async function startNode(config: Config, opts: StartOptions = {}): Promise<RunningNode> {
  const logger = opts.logger ?? pino({ level: config.log.level, base: { node: config.node.id } });
  // Before anything starts: a misconfigured validator must not leave a ledger thread behind.
  const identity = memberIdentity(config);
  const genesis = genesisAccounts(config);
  // Before anything in the data dir is touched: another process or node on it stops us here.
  const lock = await DataDirLock.acquire(config.node.dataDir, config.node.id);
  let node: HotledgerNode;
  let tip: Awaited<ReturnType<LedgerClient['init']>>;
  try {
    const devnetKeyFiles = writeDevnetKeys(config);
    const ledger = new LedgerClient(opts.ledgerThread);
    try {
      tip = await ledger.init({
        path: config.node.dataDir,
        mapSizeMb: config.storage.mapSizeMb,
        cacheSizeMb: config.storage.cacheSizeMb,
        chainId: config.chain.chainId,
        shards: config.pipeline.executionShards || config.pipeline.threads,
        genesis,
      });
    } catch (e) {
      await ledger.close();
      throw e;
    }
    // The read side on this thread shares the ledger thread's LMDB environment (one per process).
    const store = new LedgerStore({ path: config.node.dataDir, mapSizeMb: config.storage.mapSizeMb });
    store.pinSnapshot(); // queries and admission see durable blocks only
    node = new HotledgerNode(config, logger, ledger, store, tip.height, devnetKeyFiles, identity, lock, opts.verifier);
  } catch (e) {
    await lock.release();
    throw e;
  }
  try {
    await node.startOrdering();
  } catch (e) {
    // A peer port in use: nothing may stay open (ledger thread, stores, the data dir lock), or a
    // host that goes on with its other nodes keeps this one's data dir locked.
    await node.close().catch(() => undefined);
    throw e;
  }
  logger.info({ height: tip.height, dataDir: config.node.dataDir, threads: config.pipeline.threads }, 'node started');
  return node;
}

class HotledgerNode implements RunningNode {
  readonly metrics = new Registry();
  private readonly m: NodeMetrics;
  private readonly mempool: Mempool;
  private readonly verifier: SignatureVerifier;
  /** The pool this node created and closes (undefined when verification is shared). */
  private readonly ownPool: VerifyPool | undefined;
  private readonly admission: Admission;
  private readonly pipeline: Pipeline;
  /** A validator's consensus, or a business / slim node's follower; undefined when solo. */
  private readonly consensus: Membership | undefined;
  private readonly listeners = new Set<(b: CommittedBlockEvent) => void>();
  private readonly tps = new TpsWindow();
  private readonly latency = new RecentLatency();
  private readonly startedAt = Date.now();
  private committedTxs = 0;
  private rejectedTxs = 0;
  private failure: Error | undefined;
  private closing = false;
  private height: number;

  constructor(
    readonly config: Config,
    readonly logger: Logger,
    private readonly ledger: LedgerClient,
    private readonly store: LedgerStore,
    height: number,
    readonly devnetKeyFiles: string[],
    identity: MemberIdentity | undefined,
    private readonly lock: DataDirLock,
    sharedVerifier: SignatureVerifier | undefined,
  ) {
    this.height = height;
    this.m = createNodeMetrics(
      this.metrics,
      () => this.collectGauges(),
      () => this.verifier.verifiedTxs,
    );
    this.m.height.set(height);
    this.m.mempoolCapacity.set(config.mempool.capacity);
    this.mempool = new Mempool(
      { chainId: config.chain.chainId, capacity: config.mempool.capacity, maxPerSender: config.mempool.maxPerSender, maxNonceGap: config.mempool.maxNonceGap },
      { committedNonce: (pk) => store.getAccount(pk)?.nonce, hasTx: (id) => store.hasTx(id) },
    );
    this.ownPool = sharedVerifier ? undefined : new VerifyPool({ threads: config.pipeline.threads, chunkSize: config.pipeline.chunkSize });
    this.verifier = sharedVerifier ?? this.ownPool!;
    this.admission = new Admission(this.mempool, this.verifier, {
      maxUnverified: config.mempool.maxUnverified,
      chunkSize: config.pipeline.chunkSize,
      metrics: this.m,
      assertAccepting: () => this.assertAccepting(),
      poke: () => this.pipeline.poke(),
    });
    let orderer: Orderer;
    if (identity) {
      this.consensus = createMembership({
        config,
        identity,
        logger,
        store,
        verifier: this.verifier,
        appliedRound: store.getHeader(height)?.round ?? 0,
        onPeerDrop: (peer, reason) => this.m.peerDrops.inc({ peer, reason }),
        observeStage: (stage, ms) => this.m.stageSeconds.observe({ stage }, ms / 1000),
      });
      orderer = this.consensus.orderer;
    } else {
      orderer = new SoloOrderer();
    }
    this.pipeline = new Pipeline(
      this.mempool,
      () => this.admission.busy,
      ledger,
      orderer,
      config.pipeline,
      (c) => this.onCommitted(c),
      (e) => this.onFailure(e),
    );
  }

  info(): NodeInfo {
    return nodeInfoView(this.config);
  }

  stats(): NodeStats {
    return {
      height: this.height,
      committedTxs: this.committedTxs,
      rejectedTxs: this.rejectedTxs,
      tps: { s1: this.tps.rate(1), s10: this.tps.rate(10), s60: this.tps.rate(60) },
      mempool: { size: this.mempool.size, capacity: this.mempool.capacity },
      latencyMs: this.latency.percentilesMs(),
      pool: { threads: this.verifier.threads, utilization: this.verifier.utilization, queueDepth: this.verifier.queueDepth },
      uptimeSec: (Date.now() - this.startedAt) / 1000,
    };
  }

  /** Gauges that mirror live state are read when Prometheus scrapes, not on every change. */
  private collectGauges(): void {
    this.m.tps.set({ window: '1s' }, this.tps.rate(1));
    this.m.tps.set({ window: '10s' }, this.tps.rate(10));
    this.m.tps.set({ window: '60s' }, this.tps.rate(60));
    this.m.poolUtilization.set(this.verifier.utilization);
    this.m.poolQueue.set(this.verifier.queueDepth);
    this.m.mempoolSize.set(this.mempool.size);
    this.m.mempoolReady.set(this.mempool.readyCount);
    this.m.inflightBatches.set(this.pipeline.inflightBatches);
    if (this.consensus) {
      const n = this.consensus.ids.length;
      this.m.consensusPeers.set(this.consensus.transport.connectedPeers((i) => i < n).length);
      if (this.consensus.kind === 'validator') {
        const s = this.consensus.orderer.status();
        this.m.consensusRound.set(s.round);
        this.m.consensusViewChanges.set(this.consensus.orderer.viewChanges);
        this.m.consensusEquivocations.set(s.equivocations);
      } else this.m.consensusRound.set(this.consensus.orderer.status().round);
    }
  }

  /** Validators listen and dial before the first round starts; a solo node has nothing to start. */
  async startOrdering(): Promise<void> {
    if (this.consensus) await this.consensus.transport.start();
  }

  consensusStatus(): ConsensusStatus {
    return consensusStatusView(this.config, this.consensus, this.height, this.getBlock('latest')?.hash ?? '');
  }

  submit(txs: Buffer): Promise<AdmitResult[]> {
    if (this.config.node.role === 'slim') {
      return Promise.reject(
        new HotledgerError('ROLE_READ_ONLY', `node ${this.config.node.id} is a slim (archive) node: it serves reads only; submit transactions to a business node or a validator`),
      );
    }
    return this.admission.submit(txs);
  }

  private assertAccepting(): void {
    if (this.closing) throw new HotledgerError('SHUTTING_DOWN', 'node is shutting down');
    const full = this.storageFull();
    if (full) throw new HotledgerError('STORAGE_FULL', `node stopped writing: ${full.message}`);
    if (this.failure) throw new HotledgerError('NOT_READY', `node pipeline failed: ${this.failure.message}`);
  }

  getTransaction(id: Buffer): TxStatusView | undefined {
    const hex = id.toString('hex');
    if (this.mempool.get(id)) return { status: 'pending', id: hex };
    const loc = this.store.getTxLocation(id);
    if (loc) return storedTxView(this.store, id, loc);
    const dropped = this.mempool.droppedReason(id);
    return dropped ? { status: 'rejected', id: hex, code: dropped } : undefined;
  }

  getBlock(height: number | 'latest'): BlockView | undefined {
    const h = height === 'latest' ? this.height : height;
    if (!Number.isSafeInteger(h) || h < 0 || h > 0xffffffff) return undefined;
    const bytes = this.store.getHeaderBytes(h);
    return bytes ? blockView(bytes) : undefined;
  }

  getAccount(publicKey: Buffer): AccountView | undefined {
    const a = this.store.getAccount(publicKey);
    return a ? accountView(publicKey, a) : undefined;
  }

  getContract(address: Buffer, keys: readonly Buffer[]): ContractView | undefined {
    return contractView(this.store, address, keys);
  }

  health(): HealthReport {
    const pipeline: HealthCheck = this.failure
      ? { name: 'pipeline', status: 'DOWN', data: { error: this.failure.message } }
      : { name: 'pipeline', status: 'UP', data: { inflightBatches: this.pipeline.inflightBatches } };
    return {
      live: [pipeline],
      ready: [this.storageCheck(), { name: 'verify-pool', status: this.closing ? 'DOWN' : 'UP', data: { threads: this.verifier.threads } }, this.syncCheck(), pipeline],
    };
  }

  /** DOWN with the reason once a store stopped writing (full disk or map), the pipeline failed, or the data dir lock was lost. */
  private storageCheck(): HealthCheck {
    const failure = this.storageFull() ?? this.consensus?.store.writeFailure ?? this.failure;
    const lockLost = !this.closing && !this.lock.held;
    if (this.closing || failure || lockLost) {
      const reason = this.closing ? 'shutting down' : failure ? failure.message : `data dir lock ${this.lock.dir}/LOCK was removed or replaced`;
      const code = failure instanceof HotledgerError ? failure.code : undefined;
      return { name: 'storage', status: 'DOWN', data: { height: this.height, reason, ...(code ? { code } : {}) } };
    }
    return { name: 'storage', status: 'UP', data: { height: this.height } };
  }

  /** The STORAGE_FULL error of the ledger (reported by the pipeline) or of the consensus store. */
  private storageFull(): HotledgerError | undefined {
    if (this.failure instanceof HotledgerError && this.failure.code === 'STORAGE_FULL') return this.failure;
    const c = this.consensus?.store.writeFailure;
    return c?.code === 'STORAGE_FULL' ? c : undefined;
  }

  /**
   * Solo: always in sync. Validator: a quorum, counting itself, of validators connected (the core's
   * quorum size). Follower: subscribed to a validator and within one catch-up chunk of the highest
   * commit it has seen.
   */
  private syncCheck(): HealthCheck {
    if (!this.consensus) return { name: 'sync', status: 'UP', data: { mode: 'solo' } };
    const n = this.consensus.ids.length;
    const peers = this.consensus.transport.connectedPeers((i) => i < n).length;
    if (this.consensus.kind === 'follower') {
      const s = this.consensus.orderer.status();
      const up = s.subscribed.length > 0 && s.behind <= FOLLOW_CHUNK;
      return { name: 'sync', status: up ? 'UP' : 'DOWN', data: { mode: 'follower', peers, subscribed: s.subscribed.length, behind: s.behind } };
    }
    const needed = peersForQuorum(n);
    return { name: 'sync', status: peers >= needed ? 'UP' : 'DOWN', data: { mode: 'hotstuff', peers, needed } };
  }

  onBlock(listener: (b: CommittedBlockEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  idle(): Promise<void> {
    return this.pipeline.idle();
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.pipeline.stop();
    // Let batches already sealed become durable; what is still only in the mempool is dropped.
    if (!this.failure) await Promise.race([this.pipeline.idle(), new Promise((r) => setTimeout(r, 10_000).unref())]);
    if (this.consensus) await this.consensus.transport.close();
    await this.ownPool?.close();
    await this.ledger.close();
    await this.store.close().catch(() => undefined);
    await this.consensus?.store.close().catch(() => undefined);
    await this.lock.release();
    this.logger.info({ height: this.height }, 'node stopped');
  }

  private onCommitted(c: CommittedBlock): void {
    const { block, reply, statuses } = c;
    this.store.pinSnapshot();
    const now = performance.now();
    const rejectedBy = new Map<number, number>();
    let at = 0;
    let foreign = false;
    for (const vb of block.batches) {
      const { batch } = vb;
      const own = statuses.subarray(at, at + batch.count);
      // Foreign batches (another node's) carry no local mempool entries.
      if (batch.entries.length === 0) foreign = true;
      else {
        this.mempool.onCommitted(batch.entries, own);
        let waited = 0;
        for (const e of batch.entries) {
          const ms = now - e.admittedAt;
          waited += batch.sealedAt - e.admittedAt;
          this.latency.recordMs(ms);
          this.m.latency.observe(ms / 1000);
        }
        this.observeStages(vb, waited / batch.entries.length, now);
      }
      this.m.batchSize.observe(batch.count);
      at += batch.count;
    }
    if (foreign) this.mempool.noteForeignCommit();
    for (const s of statuses) if (s !== 0) rejectedBy.set(s, (rejectedBy.get(s) ?? 0) + 1);
    for (const [code, n] of rejectedBy) this.m.rejected.inc({ stage: 'execution', reason: rejectName(code) }, n);
    this.height = reply.height;
    this.committedTxs += reply.committed;
    this.rejectedTxs += reply.rejected;
    this.tps.add(reply.committed);
    this.m.committed.inc(reply.committed);
    this.m.height.set(reply.height);
    for (const b of block.batches) this.m.verifySeconds.observe(b.verifyMs / 1000);
    this.m.executeSeconds.observe(reply.executeMs / 1000);
    this.m.persistSeconds.observe(reply.persistMs / 1000);
    this.m.cacheEntries.set(reply.cacheSize);
    if (this.listeners.size === 0) return;
    // Receipts are read back from the durable block (pinned above): they were written in its transaction.
    const event = committedBlockEvent(this.store, reply, c.ids, statuses);
    for (const l of this.listeners) {
      try {
        l(event);
      } catch (e) {
        this.logger.error({ err: e }, 'block listener threw');
      }
    }
  }

  /** Where a local batch's latency went (hotledger_stage_seconds): one observation per stage. */
  private observeStages(vb: VerifiedBatch, mempoolMs: number, now: number): void {
    const st = this.m.stageSeconds;
    st.observe({ stage: 'mempool' }, mempoolMs / 1000);
    st.observe({ stage: 'verify' }, vb.verifyMs / 1000);
    if (vb.submittedAt !== undefined && vb.deliveredAt !== undefined) st.observe({ stage: 'order' }, (vb.deliveredAt - vb.submittedAt) / 1000);
    if (vb.deliveredAt !== undefined) st.observe({ stage: 'apply' }, (now - vb.deliveredAt) / 1000);
  }

  private onFailure(e: Error): void {
    this.failure = e;
    if (e instanceof HotledgerError && e.code === 'STORAGE_FULL') {
      this.logger.fatal(
        { err: e },
        'storage full: the node stopped writing and accepting transactions at its last whole block; free space (or raise storage.mapSizeMb) and restart',
      );
      return;
    }
    this.logger.fatal({ err: e }, 'pipeline failed: the node no longer accepts transactions');
  }
}
