import { BlockTree } from './block-tree.js';
import { CertVerifier } from './certificates.js';
import { ForwardSync, SYNC_CHUNK, type SyncRequest } from './forward-sync.js';
import { RoundRobin, type LeaderElection } from './leader-election.js';
import { Pacemaker } from './pacemaker.js';
import { PayloadTracker } from './payload.js';
import { SafetyRules, type VotingRules } from './safety-rules.js';
import { SYNC_BATCH, Synchronizer } from './synchronizer.js';
import {
  ZERO_HASH,
  computeBlockHash,
  equalBytes,
  faultTolerance,
  genesisBlock,
  genesisQc,
  hex,
  makeBlock,
  proposalSigningBytes,
  timeoutSigningBytes,
  voteSigningBytes,
  type Block,
  type CommittedBlock,
  type ConsensusMessage,
  type Hash,
  type Proposal,
  type QuorumCert,
  type Timeout,
  type TimeoutCert,
} from './types.js';
import { VoteAggregator, type EquivocationEvent } from './vote-aggregator.js';
import { DEFAULT_FUTURE_ROUND_WINDOW, IDLE_TIMEOUT_FACTOR, type ConsensusConfig, type ConsensusFootprint, type ConsensusOutput, type ConsensusStatusView } from './api.js';

export type { ConsensusConfig, ConsensusEvent, ConsensusFootprint, ConsensusOutput, ConsensusStatusView } from './api.js';

/** Sans-I/O 2-chain HotStuff (Jolteon): inputs in, an output object back, no clocks or sockets. */
export class ConsensusCore {
  private readonly n: number;
  private readonly self: number;
  private readonly f: number;
  private readonly election: LeaderElection;
  private readonly rules: VotingRules;
  private readonly verifier: CertVerifier;
  private readonly agg: VoteAggregator;
  private readonly pacemaker: Pacemaker;
  private readonly tree: BlockTree;
  private readonly payload = new PayloadTracker();
  private readonly sync: Synchronizer;
  private readonly forward: ForwardSync;
  /** Gaps up to this many blocks are fetched backwards, larger ones forwards (see missingBlock). */
  private readonly backwardReach: number;
  private readonly maxPayload: number;
  /** Votes and timeouts more than this many rounds above ours are not kept. */
  private readonly futureRounds: number;
  private highQc: QuorumCert;
  private highTc: TimeoutCert | null = null;
  private proposedRound = 0;
  /** Highest round of a block with payload in the tree: such a block is work until certified. */
  private payloadRound = 0;
  /** The round whose leader (us) waits for the heartbeat to send an empty, commit-announcing block. */
  private heartbeatRound = 0;
  /** The commit that made the current root committed included a block with payload. */
  private rootCommittedPayload = false;
  private waitingVote: { block: Block; tc: TimeoutCert | null } | null = null;
  /** When we last sent sync-info to each peer. */
  private readonly syncInfoSent = new Map<number, number>();
  /** Highest round each validator sent a timeout for (verified). */
  private readonly timeoutRoundOf = new Map<number, number>();
  private stateRoot: Hash = ZERO_HASH;
  private now = 0;
  private dirty = false;
  private equivocations = 0;
  private out: ConsensusOutput = emptyOutput();

  constructor(private readonly cfg: ConsensusConfig) {
    this.n = cfg.validators;
    this.self = cfg.self;
    this.f = faultTolerance(this.n).f;
    this.election = cfg.leaderElection ?? new RoundRobin(this.n);
    const gQc = genesisQc(cfg.chainId);
    const root = cfg.root ?? { block: genesisBlock(cfg.chainId), qc: gQc };
    const safety = cfg.safety ?? SafetyRules.initial(gQc);
    this.rules = cfg.votingRules ? cfg.votingRules(safety) : new SafetyRules(safety);
    this.verifier = new CertVerifier(cfg.chainId, this.n, cfg.crypto);
    this.agg = new VoteAggregator(this.verifier.quorum);
    this.pacemaker = new Pacemaker({
      timeoutMs: cfg.timeoutMs,
      heartbeatMs: cfg.heartbeatMs,
      maxBackoffExponent: cfg.maxBackoffExponent ?? 2,
      idleTimeoutMs: cfg.idleTimeoutMs ?? IDLE_TIMEOUT_FACTOR * cfg.timeoutMs,
    });
    this.tree = new BlockTree(root.block, root.qc, cfg.retainCommitted ?? 1_000, cfg.unsafeOneChainCommit === true);
    this.sync = new Synchronizer(this.self, this.n, Math.max(1, Math.floor(cfg.timeoutMs / 2)));
    // The backward walk needs the whole gap in peers' memory; assume they retain what we do.
    this.backwardReach = Math.max(1, Math.min(SYNC_BATCH, Math.floor((cfg.retainCommitted ?? 1_000) / 2)));
    this.forward = new ForwardSync(this.self, this.n, Math.max(1, Math.floor(cfg.timeoutMs / 2)), this.backwardReach);
    this.maxPayload = cfg.maxPayloadDigests ?? 64;
    this.futureRounds = cfg.futureRoundWindow ?? DEFAULT_FUTURE_ROUND_WINDOW;
    this.highQc = safety.highQc.round >= root.qc.round ? safety.highQc : root.qc;
    this.highTc = cfg.highTc ?? null;
  }

  start(nowMs: number): ConsensusOutput {
    this.begin(nowMs);
    const round = Math.max(this.highQc.round + 1, (this.highTc?.round ?? 0) + 1, this.rules.data.lastVotedRound, 1);
    this.pacemaker.start(round, this.now);
    const stored = [...(this.cfg.blocks ?? [])].sort((a, b) => a.height - b.height);
    for (const b of stored) {
      if (b.height <= this.tree.root.height || !equalBytes(computeBlockHash(b), b.hash) || !this.verifier.qc(b.qc)) continue;
      if (this.tree.insert(b)) this.afterInsert(b, false);
    }
    if (!this.tree.has(this.highQc.blockHash)) this.missingBlock(this.highQc.blockHash, this.election.leader(this.highQc.round + 1), null, this.highQc.round);
    this.proposeIfReady(false);
    return this.finish();
  }

  onTick(nowMs: number): ConsensusOutput {
    this.begin(nowMs);
    for (const r of this.sync.due(this.now)) this.send(r.peer, { type: 'blocks-request', hash: r.hash, count: SYNC_BATCH });
    if (this.forward.due(this.now)) this.forwardNext(this.forward.miss(this.now));
    if (this.now >= this.pacemaker.timeoutDeadline) this.localTimeout();
    if (this.now >= this.pacemaker.heartbeatAt()) this.proposeIfReady(true);
    return this.finish();
  }

  onMessage(from: number, msg: ConsensusMessage, nowMs?: number): ConsensusOutput {
    this.begin(nowMs);
    if (Number.isInteger(from) && from >= 0 && from < this.n && from !== this.self) {
      switch (msg.type) {
        case 'proposal':
          this.handleProposal(from, msg.proposal);
          break;
        case 'vote':
          this.handleVote(from, msg.vote);
          break;
        case 'timeout':
          this.handleTimeout(from, msg.timeout, msg.highTc);
          break;
        case 'sync-info':
          this.handleSyncInfo(from, msg.highQc, msg.highTc);
          break;
        case 'blocks-request':
          this.handleBlocksRequest(from, msg.hash, msg.count);
          break;
        case 'blocks-response':
          this.handleBlocksResponse(from, msg.blocks);
          break;
        case 'sync-request':
          this.handleSyncRequest(from, msg.fromHeight, msg.count);
          break;
        case 'sync-response':
          this.handleSyncResponse(from, msg.blocks);
          break;
      }
    }
    return this.finish();
  }

  /** The batch with this digest is stored locally: it may be proposed and voted on. */
  onPayloadAvailable(digest: Hash, nowMs?: number): ConsensusOutput {
    this.begin(nowMs);
    if (this.payload.onAvailable(digest)) {
      const w = this.waitingVote;
      if (w !== null && this.payload.missing(w.block).length === 0) {
        this.waitingVote = null;
        this.maybeVote(w.block, w.tc);
      }
      this.proposeIfReady(false);
    }
    return this.finish();
  }

  /** The node's latest state root; copied unchecked into this node's next proposals. */
  setStateRoot(root: Hash): void {
    this.stateRoot = Uint8Array.from(root);
  }

  /**
   * Entries of every per-round or per-peer structure the core holds: what a flood of messages
   * could grow. Each is bounded (see docs/consensus.md, "Memory bounds"); tests assert it.
   */
  memoryFootprint(): ConsensusFootprint {
    const a = this.agg.size();
    const s = this.sync.size();
    return {
      round: this.pacemaker.round,
      voteRounds: a.voteRounds,
      votes: a.votes,
      timeoutRounds: a.timeoutRounds,
      timeouts: a.timeouts,
      seen: a.seen,
      blocks: this.tree.size,
      parked: s.parked,
      orphans: s.orphans,
      inflight: s.inflight,
      timeoutRoundOf: this.timeoutRoundOf.size,
      verifiedCerts: this.verifier.size,
    };
  }

  status(): ConsensusStatusView {
    return {
      round: this.pacemaker.round,
      leader: this.election.leader(this.pacemaker.round),
      committedHeight: this.tree.root.height,
      committedHash: hex(this.tree.root.hash),
      highQc: { round: this.highQc.round, blockHash: hex(this.highQc.blockHash), votes: this.highQc.signatures.length },
      equivocations: this.equivocations,
    };
  }

  // --- message handlers -------------------------------------------------------------------

  private handleProposal(from: number, p: Proposal): void {
    const b = p.block;
    const bad = (reason: string): void => void this.out.events.push({ type: 'invalid', from, reason });
    if (b.chainId !== this.cfg.chainId || !equalBytes(computeBlockHash(b), b.hash)) return bad('proposal: bad block hash');
    if (b.proposer !== this.election.leader(b.round)) return bad('proposal: not the leader of its round');
    if (!equalBytes(b.qc.blockHash, b.parentHash) || b.qc.round >= b.round) return bad('proposal: qc does not certify parent');
    if (b.payload.length > this.maxPayload) return bad('proposal: payload too large');
    const direct = b.qc.round + 1 === b.round;
    if (!direct && (p.tc === null || p.tc.round + 1 !== b.round)) return bad('proposal: round not justified');
    if (!this.verifier.proposal(p)) return bad('proposal: bad signature');
    if (!this.verifier.qc(b.qc)) return bad('proposal: invalid qc');
    if (p.tc !== null && !this.verifier.tc(p.tc)) return bad('proposal: invalid tc');
    // Only now is anything remembered: a proposal is justified by a certificate of the round
    // before it, so however far ahead its round is, processing that certificate brings us there.
    this.processQc(b.qc, from, b.height - 1);
    if (p.tc !== null) this.processTc(p.tc);
    const seen = this.agg.checkProposal(b.round, b.proposer, b.hash);
    if (seen.event !== null) this.reportEquivocation(seen.event);
    // A third and later block of one (round, leader): the first two are the evidence.
    if (!seen.keep) return;
    if (b.height <= this.tree.root.height) return;
    if (!this.tree.has(b.parentHash)) {
      this.sync.park(from, p);
      this.missingBlock(b.parentHash, from, b.height - 1, b.qc.round);
      return;
    }
    if (!this.tree.insert(b)) return bad('proposal: does not fit its parent');
    this.afterInsert(b);
    this.maybeVote(b, p.tc);
  }

  private handleVote(from: number, v: { round: number; blockHash: Hash; signer: number; sig: Uint8Array }, own = false): void {
    if (v.round <= this.tree.root.round) return;
    // Votes are aggregated from two rounds back (the aggregator's pruning) up to the window
    // above: a vote further ahead cannot help us form a QC before we reach its round, and we
    // reach it only through certificates that do not depend on this vote.
    const round = this.pacemaker.round;
    if (v.round + 2 < round || v.round > round + this.futureRounds) return;
    // Votes are broadcast, so every node gets n of them per round and needs 2f+1: the rest would
    // cost a signature check each for a certificate we already hold. A vote for another block of
    // a certified round is still checked (it may be equivocation evidence).
    if (this.verifier.knowsQc(v.round, v.blockHash)) return;
    if (!own && !this.verifier.vote(v)) return void this.out.events.push({ type: 'invalid', from, reason: 'vote: bad signature' });
    const events: EquivocationEvent[] = [];
    const qc = this.agg.addVote(v, events);
    for (const e of events) this.reportEquivocation(e);
    if (qc === null) return;
    // Every vote in it was checked: the same QC inside the next proposal needs no second check.
    this.verifier.formed(qc);
    this.processQc(qc, v.signer);
  }

  private handleTimeout(from: number, t: Timeout, highTc: TimeoutCert | null): void {
    if (t.round > this.pacemaker.round + this.futureRounds) {
      // Too far ahead to aggregate. Its certificates may still move us on (a node that fell
      // behind catches up this way); if they cannot, the message is dropped unverified.
      if (Math.max(t.highQc.round, highTc?.round ?? 0) < this.pacemaker.round) return;
      if (!this.verifier.qc(t.highQc)) return void this.out.events.push({ type: 'invalid', from, reason: 'timeout: invalid qc' });
      this.processQc(t.highQc, from);
      if (highTc !== null && this.verifier.tc(highTc)) this.processTc(highTc);
      if (t.round > this.pacemaker.round + this.futureRounds) return;
    }
    if (!this.verifier.timeout(t)) return void this.out.events.push({ type: 'invalid', from, reason: 'timeout: bad signature or qc' });
    this.processQc(t.highQc, t.signer);
    if (highTc !== null && this.verifier.tc(highTc)) this.processTc(highTc);
    if (t.round > (this.timeoutRoundOf.get(t.signer) ?? 0)) this.timeoutRoundOf.set(t.signer, t.round);
    // f+1 validators timed out in round r or later, so at least one honest node is there: jump to
    // r and time out too. Without this, a node that lost the TC that moved the others on (a crash
    // loses it) could keep the rest one timeout short of a quorum forever. Safety never depends on
    // how a round was entered: votes need a QC or TC inside the proposal.
    const r = [...this.timeoutRoundOf.values()].sort((a, b) => b - a)[this.f] ?? 0;
    if (r > this.pacemaker.round) {
      this.pacemaker.advance(r - 1, true, this.now);
      this.onNewRound();
      this.localTimeout();
    }
    if (t.round < this.pacemaker.round) {
      // The sender is behind: hand it the certificates that moved us on. Rate-limited per peer,
      // but not once-per-round: the first answer may be lost, and the peer keeps re-broadcasting.
      const last = this.syncInfoSent.get(from);
      if (last === undefined || this.now - last >= this.cfg.timeoutMs / 2) {
        this.syncInfoSent.set(from, this.now);
        this.send(from, { type: 'sync-info', highQc: this.highQc, highTc: this.highTc });
      }
      return;
    }
    const tc = this.agg.addTimeout(t);
    if (tc !== null) return this.processTc(tc);
    // f+1 timeouts mean at least one honest node gave up on the round: join so a TC can form.
    if (t.round === this.pacemaker.round && !this.pacemaker.hasTimedOut() && this.agg.timeoutCount(t.round) > this.f) this.localTimeout();
  }

  private handleSyncInfo(from: number, qc: QuorumCert, tc: TimeoutCert | null): void {
    if (!this.verifier.qc(qc)) return void this.out.events.push({ type: 'invalid', from, reason: 'sync-info: invalid qc' });
    this.processQc(qc, from);
    if (tc !== null && this.verifier.tc(tc)) this.processTc(tc);
  }

  private handleBlocksRequest(from: number, hash: Hash, count: number): void {
    const blocks = this.tree.ancestry(hash, Math.max(1, Math.min(count, SYNC_BATCH)));
    if (blocks.length > 0) this.send(from, { type: 'blocks-response', blocks });
  }

  private handleBlocksResponse(from: number, blocks: Block[]): void {
    if (blocks.length === 0 || blocks.length > SYNC_BATCH) return;
    if (!blocks.every((b) => this.validSyncedBlock(b))) return void this.out.events.push({ type: 'invalid', from, reason: 'blocks-response: invalid block' });
    const chain = this.sync.accept(blocks);
    if (chain === null) return;
    for (const b of chain) this.processQc(b.qc, from, b.height - 1);
    for (const b of chain) {
      if (b.height <= this.tree.root.height) {
        this.sync.resolved(b.hash);
        continue;
      }
      if (!this.tree.has(b.parentHash)) {
        // A short answer is all of the ancestry the responder still holds in memory: committed
        // blocks below its retained window are only in its store, and asking any peer backwards
        // for them again gets no answer (a node a few blocks behind whose peers pruned those
        // blocks stalled so). Sync forward from our root instead; the orphans held connect after.
        if (blocks.length < SYNC_BATCH)
          return this.forwardNext(this.forward.start(this.tree.root.height + 1, from, { hash: b.parentHash, peer: from, height: b.height - 1 }, this.now), false);
        return this.missingBlock(b.parentHash, from, b.height - 1, b.qc.round);
      }
      if (!this.tree.insert(b)) return void this.out.events.push({ type: 'invalid', from, reason: 'blocks-response: block does not fit' });
      this.afterInsert(b);
    }
  }

  /** An empty answer tells the asker to try another peer at once. */
  private handleSyncRequest(from: number, fromHeight: number, count: number): void {
    this.send(from, { type: 'sync-response', blocks: this.tree.committedRun(fromHeight, Math.min(count, SYNC_CHUNK), this.cfg.committedChain) });
  }

  /**
   * A forward-sync chunk, oldest first. Verified like a blocks-response, and the responder's word
   * that the blocks are committed is never used: only blocks certified inside the chunk (each by
   * its successor's QC) are inserted, in order, and the 2-chain rule decides what commits. The
   * last block has no certificate here, so the next request starts at it.
   */
  private handleSyncResponse(from: number, blocks: Block[]): void {
    const expected = this.forward.expecting(from);
    if (expected === null) return; // unsolicited: not worth a signature check
    const first = blocks[0];
    // A late or duplicated answer to an earlier request of this run: nothing new in it.
    if (first !== undefined && first.height !== expected) return;
    if (first === undefined || blocks.length > SYNC_CHUNK) return this.forwardNext(this.forward.miss(this.now));
    for (let i = 0; i < blocks.length; i++) {
      const b = blocks[i]!;
      const linked = i === 0 || (b.height === blocks[i - 1]!.height + 1 && equalBytes(b.parentHash, blocks[i - 1]!.hash));
      if (!linked || !this.validSyncedBlock(b)) {
        this.out.events.push({ type: 'invalid', from, reason: 'sync-response: invalid block' });
        return this.forwardNext(this.forward.miss(this.now));
      }
    }
    for (const b of blocks.slice(0, -1)) {
      if (b.height <= this.tree.root.height || this.tree.has(b.hash)) continue;
      // Does not hang off our tree: we followed an uncommitted fork, or the responder's chain is
      // not ours. Start again just above the committed root, which every honest chain extends.
      if (!this.tree.has(b.parentHash) || !this.tree.insert(b)) return this.forwardNext(this.forward.miss(this.now, this.tree.root.height + 1));
      this.afterInsert(b);
    }
    const last = blocks[blocks.length - 1]!;
    if (blocks.length > 1) this.processQc(last.qc, from, last.height - 1);
    this.forwardNext(this.forward.progress(Math.max(last.height, this.tree.root.height + 1), blocks.length >= SYNC_CHUNK, this.now));
  }

  /** The same checks every synced block gets: it is what it says and its parent is certified. */
  private validSyncedBlock(b: Block): boolean {
    return (
      b.chainId === this.cfg.chainId &&
      equalBytes(computeBlockHash(b), b.hash) &&
      equalBytes(b.qc.blockHash, b.parentHash) &&
      b.qc.round < b.round &&
      b.payload.length <= this.maxPayload &&
      this.verifier.qc(b.qc)
    );
  }

  // --- protocol steps ---------------------------------------------------------------------

  /** `height`: of the block the QC certifies, when the caller knows it (QCs do not carry it). */
  private processQc(qc: QuorumCert, hint: number, height: number | null = null): void {
    if (qc.round > this.highQc.round) this.highQc = qc;
    if (this.rules.observeQc(qc)) this.dirty = true;
    if (qc.round <= this.tree.root.round) return;
    this.tree.addQc(qc);
    if (this.tree.has(qc.blockHash)) this.commit(this.tree.tryCommit(qc.blockHash));
    else this.missingBlock(qc.blockHash, hint, height, qc.round);
    if (this.pacemaker.advance(qc.round, false, this.now)) this.onNewRound();
  }

  private processTc(tc: TimeoutCert): void {
    this.processQc(tc.highQc, this.election.leader(tc.highQc.round + 1));
    if (this.highTc === null || tc.round > this.highTc.round) {
      this.highTc = tc;
      this.out.persistTc = tc;
    }
    if (this.pacemaker.advance(tc.round, true, this.now)) this.onNewRound();
  }

  private onNewRound(): void {
    this.waitingVote = null;
    this.agg.prune(this.pacemaker.round - 2);
    this.proposeIfReady(false);
  }

  private afterInsert(b: Block, persist = true): void {
    if (persist) this.out.persistBlocks.push(b);
    if (b.payload.length > 0 && b.round > this.payloadRound) this.payloadRound = b.round;
    this.sync.resolved(b.hash);
    const missing = this.payload.missing(b).filter((d) => !this.payload.wasCommitted(d));
    if (missing.length > 0) this.out.fetchPayload.push({ digests: missing, from: b.proposer });
    this.commit(this.tree.tryCommit(b.parentHash));
    if (this.tree.qcFor(b.hash) !== undefined) this.commit(this.tree.tryCommit(b.hash));
    for (const parked of this.sync.unpark(b.hash)) this.handleProposal(parked.from, parked.proposal);
    if (equalBytes(b.hash, this.highQc.blockHash)) this.proposeIfReady(false);
    // Catch-up over more than one blocks-response: newer segments wait in the synchronizer as
    // orphans (and are never re-requested); insert the one that hangs below this block, upwards.
    const child = this.sync.childOf(b.hash);
    if (child && !this.tree.has(child.hash) && this.tree.insert(child)) this.afterInsert(child);
  }

  private commit(blocks: CommittedBlock[]): void {
    for (const h of this.tree.conflicts.splice(0)) this.out.events.push({ type: 'conflicting-commit', blockHash: h });
    for (const c of blocks) {
      this.out.commits.push(c);
      this.payload.onCommit(c.block);
    }
    if (blocks.length > 0) this.rootCommittedPayload = blocks.some((c) => c.block.payload.length > 0);
    if (blocks.length > 0) this.out.commitProof = this.tree.commitProof;
    if (blocks.length > 0) this.sync.prune(this.tree.root.height);
  }

  private maybeVote(b: Block, tc: TimeoutCert | null): void {
    if (b.round !== this.pacemaker.round || this.pacemaker.hasTimedOut()) return;
    // A correct leader never re-proposes an ordered batch; voting for it would order it twice.
    if (b.payload.some((d) => this.payload.wasCommitted(d))) return;
    if (this.payload.missing(b).length > 0) {
      this.waitingVote = { block: b, tc };
      return;
    }
    if (!this.rules.voteFor(b, tc).ok) return;
    this.dirty = true;
    const sig = this.cfg.crypto.sign(voteSigningBytes(this.cfg.chainId, b.round, b.hash));
    const vote = { round: b.round, blockHash: b.hash, signer: this.self, sig };
    // To every validator, not only the next leader: each forms the QC itself, so a commit is
    // known everywhere one hop sooner (no wait for the next proposal to carry the QC), and the
    // next leader's round starts the same way. Our own vote counts here, after this output's
    // persist like everything it sends.
    this.send('all', { type: 'vote', vote });
    this.handleVote(this.self, vote, true);
  }

  private localTimeout(): void {
    const round = this.pacemaker.round;
    this.pacemaker.onLocalTimeout(this.now);
    // Still lacking the block of our highest QC: ask again. While the cluster is idle no new
    // proposal or certificate arrives to trigger the fetch, so the round timer has to.
    if (!this.tree.has(this.highQc.blockHash)) this.missingBlock(this.highQc.blockHash, this.election.leader(this.highQc.round + 1), null, this.highQc.round);
    if (!this.rules.timeoutFor(round, this.highQc).ok) return;
    this.dirty = true;
    this.out.events.push({ type: 'local-timeout', round });
    const sig = this.cfg.crypto.sign(timeoutSigningBytes(this.cfg.chainId, round, this.highQc.round));
    const timeout: Timeout = { round, highQc: this.highQc, signer: this.self, sig };
    this.send('all', { type: 'timeout', timeout, highTc: this.highTc });
    const tc = this.agg.addTimeout(timeout);
    if (tc !== null) this.processTc(tc);
  }

  /**
   * The leader proposes at once when there is work: pending batches, or payload on the chain it
   * extends, which needs certified descendants to commit. With neither, it proposes only if its
   * highest QC newly commits a block with payload (it formed that QC itself from votes, so no one
   * else knows the commit yet): an empty block carrying the QC, after `heartbeatMs` so a batch
   * arriving meanwhile can ride in it. Otherwise it proposes nothing: an idle cluster writes no
   * blocks, and the next batch is proposed the moment it arrives (docs/consensus.md, "Idle").
   */
  private proposeIfReady(heartbeat: boolean): void {
    const round = this.pacemaker.round;
    if (this.election.leader(round) !== this.self || this.proposedRound >= round || this.pacemaker.hasTimedOut()) return;
    // After a restart proposedRound is lost; a persisted vote or timeout in this round means we
    // may already have proposed in it, and a second proposal would be an equivocation.
    if (round <= this.rules.data.lastVotedRound) return;
    let tc: TimeoutCert | null = null;
    if (this.highQc.round + 1 !== round) {
      if (this.highTc === null || this.highTc.round + 1 !== round) return;
      tc = this.highTc;
    }
    const parent = this.tree.get(this.highQc.blockHash);
    if (parent === undefined) return this.requestBlock(this.highQc.blockHash, this.election.leader(this.highQc.round + 1));
    const exclude = this.tree.uncommittedDigests(parent);
    const digests = this.payload.select(exclude, this.maxPayload);
    if (digests.length === 0 && exclude.size === 0) {
      if (tc !== null || !this.commitsPayload(parent)) return;
      if (!heartbeat) return void (this.heartbeatRound = round);
    }
    this.proposedRound = round;
    const block = makeBlock({
      chainId: this.cfg.chainId,
      round,
      height: parent.height + 1,
      parentHash: parent.hash,
      qc: this.highQc,
      payload: digests,
      proposer: this.self,
      parentStateRoot: this.stateRoot,
      timestampMs: Math.max(this.now, parent.timestampMs),
    });
    const proposal: Proposal = { block, tc, sig: this.cfg.crypto.sign(proposalSigningBytes(this.cfg.chainId, block.hash)) };
    this.send('all', { type: 'proposal', proposal });
    if (this.tree.insert(block)) {
      this.afterInsert(block);
      this.maybeVote(block, tc);
    }
  }

  /**
   * Whether the QC of `certified` is the one that committed our root (its parent, a direct
   * 2-chain) and that commit included payload: others learn of it only from a block carrying it.
   */
  private commitsPayload(certified: Block): boolean {
    const p = this.tree.get(certified.parentHash);
    return this.rootCommittedPayload && p !== undefined && equalBytes(p.hash, this.tree.root.hash) && p.round + 1 === certified.round;
  }

  /**
   * Work this node is waiting on, which a silent leader would stall: batches not yet committed,
   * a block with payload proposed in the current round (awaiting its QC), or payload on the
   * chain of our highest QC (awaiting the descendants that commit it). Without any, a round that
   * makes no progress is not a failure.
   */
  private hasWork(): boolean {
    if (this.cfg.unsafeAlwaysIdle === true) return false;
    if (this.payload.hasPending() || this.payloadRound >= this.pacemaker.round) return true;
    let cur = this.tree.get(this.highQc.blockHash);
    while (cur !== undefined && cur.height > this.tree.root.height) {
      if (cur.payload.length > 0) return true;
      cur = this.tree.get(cur.parentHash);
    }
    return false;
  }

  /**
   * We lack a certified block. Close to the root, fetch its ancestry backwards (one request of
   * SYNC_BATCH reaches the tree). Far above it, sync forward from the root instead: the backward
   * walk holds everything as orphans until it connects and peers keep only `retainCommitted`
   * blocks in memory. Without a height (a bare QC) the round gap bounds the height gap from above.
   */
  private missingBlock(hash: Hash, peer: number, height: number | null, round: number): void {
    const root = this.tree.root;
    const far = height !== null ? height - root.height > this.backwardReach : round - root.round > this.backwardReach;
    if (!far) return this.requestBlock(hash, peer);
    this.forwardNext(this.forward.start(root.height + 1, peer, { hash, peer, height }, this.now), false);
  }

  /** Sends the next sync-request; `null` means the run is over and the backward path takes over. */
  private forwardNext(req: SyncRequest | null, endIfNull = true): void {
    if (req !== null) return this.send(req.peer, { type: 'sync-request', fromHeight: req.fromHeight, count: req.count });
    if (!endIfNull) return;
    const target = this.forward.finish();
    if (target !== null && !this.tree.has(target.hash) && (target.height === null || target.height > this.tree.root.height)) this.requestBlock(target.hash, target.peer);
    // The run's target can be an older certificate's block (a TC's high QC seen after the QC
    // that started the run); the block of our highest QC is the one we must reach.
    if (!this.tree.has(this.highQc.blockHash)) this.requestBlock(this.highQc.blockHash, target?.peer ?? this.election.leader(this.highQc.round + 1));
  }

  private requestBlock(hash: Hash, peer: number): void {
    const to = this.sync.request(hash, peer, this.now);
    if (to !== null) this.send(to, { type: 'blocks-request', hash, count: SYNC_BATCH });
  }

  private reportEquivocation(e: EquivocationEvent): void {
    this.equivocations++;
    this.out.events.push(e);
  }

  private send(to: number | 'all', msg: ConsensusMessage): void {
    this.out.send.push({ to, msg });
  }

  private begin(nowMs: number | undefined): void {
    if (nowMs !== undefined && nowMs > this.now) this.now = nowMs;
    this.out = emptyOutput();
    this.dirty = false;
  }

  private finish(): ConsensusOutput {
    const out = this.out;
    if (this.dirty) out.persist = this.rules.data;
    this.pacemaker.setBusy(this.hasWork(), this.now);
    let at = this.pacemaker.timeoutDeadline;
    const round = this.pacemaker.round;
    if (this.heartbeatRound === round && this.election.leader(round) === this.self && this.proposedRound < round && !this.pacemaker.hasTimedOut()) {
      const hb = this.pacemaker.heartbeatAt();
      if (hb > this.now && hb < at) at = hb;
    }
    for (const retry of [this.sync.nextRetryAt(), this.forward.nextRetryAt()]) {
      if (retry !== null && retry < at) at = Math.max(retry, this.now);
    }
    out.timer = { at };
    return out;
  }
}

function emptyOutput(): ConsensusOutput {
  return { persistBlocks: [], send: [], commits: [], fetchPayload: [], timer: null, events: [] };
}
