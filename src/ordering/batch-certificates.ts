import type { ConsensusCrypto } from '../consensus/crypto.js';
import { faultTolerance, hex, type Hash } from '../consensus/types.js';
import { batchVoteBytes, validBatchCertificate, verifierOrder, type BatchCertificate, type BatchVote } from './batch-certificate.js';

/**
 * Batch certificates (the payload layer's Narwhal / Aptos Quorum Store step): a validator signs
 * "I verified every signature of the batch with this digest and content hash, and I store it". f+1
 * such votes from distinct validators are a certificate: at most f validators are faulty, so one
 * signer is honest, verified those exact bytes and holds them. A validator that is not among a
 * batch's designated verifiers stores the batch unverified and offers it to consensus (and, once
 * ordered, to execution) only when it holds a certificate for the content it holds.
 *
 * Sans-I/O like ConsensusCore: batches held, verification results, peers' votes and certificates
 * and ticks in; verifications to run, votes to broadcast, certificate requests, batches certified
 * and a timer out. Runs the same in a node (ConsensusOrderer) and in the simulator.
 */

/** Entries with votes but no batch held (a peer's votes can arrive first): the oldest are forgotten beyond this. */
const MAX_UNHELD = 4_096;
/**
 * Certificates of released batches (their block applied) kept to answer requests: a validator that
 * restarts holding batches, or lost the votes, gets them from peers instead of verifying again.
 */
const RETAINED_CERTS = 16_384;
/** Escalation periods (escalateMs each) between two more verifiers; every period asks peers for the certificate. */
const VERIFY_EVERY = 4;
/** Certificate requests per message (peer-wire's MAX_BATCHES_PER_REQUEST). */
const MAX_CERTS_PER_REQUEST = 64;

export interface BatchCertificatesConfig {
  chainId: number;
  validators: number;
  self: number;
  /** Signs this validator's votes and checks peers' (the consensus key and validator set). */
  crypto: ConsensusCrypto;
  /**
   * A batch held without a certificate asks a peer for it every this many ms, and every
   * VERIFY_EVERY such periods one more validator of its verifier order verifies it.
   */
  escalateMs: number;
  /**
   * Periods before the first verifier beyond the designated ones steps in (default VERIFY_EVERY,
   * one more every VERIFY_EVERY after it). A node under load sets it longer: an honest designated
   * verifier's queue must not be taken for a silent one.
   */
  firstEscalation?: number;
  /** How many validators of the verifier order verify a batch on arrival: f + 1 by default (the design), up to n. */
  designated?: number;
  /** Test-only (simulator): certificates of f votes, one short of f + 1 (a broken threshold). */
  unsafeQuorum?: number;
  /** Test-only (simulator): no certificate requests and no escalation (lost votes are never made up). */
  unsafeNoRecovery?: boolean;
}

export interface CertOutput {
  /** Verify every signature of the held batch with this digest, then call `verified`. */
  verify: Hash[];
  /** This validator's votes: send each to every other validator. */
  votes: BatchVote[];
  /** Ask these validators for their certificates of these digests. */
  requests: { to: number; digests: Hash[] }[];
  /** Batches now held with a valid certificate for exactly the bytes held: offer them to consensus and for execution. */
  certified: Hash[];
  /**
   * Batches this node verified itself (and voted for), not yet certified: valid here, so usable for
   * executing a block already committed, but not proposed or voted for until certified.
   */
  verifiedHere: Hash[];
  /** The held copy is not the certified content (a forged copy): drop it and fetch the batch again. */
  mismatch: Hash[];
  /**
   * A batch this node is a designated verifier of, voted for by its origin, that has not arrived
   * (dropped here for want of room, or lost): ask its origin for it.
   */
  fetch: { digest: Hash; from: number }[];
  timer: { at: number } | null;
}

interface Entry {
  digest: Hash;
  /** -1: not known (a batch fetched by digest; its answerer need not be its origin). */
  origin: number;
  /** Content hash (hex) of the copy held; undefined until held. */
  held?: string;
  heldAt: number;
  state: 'waiting' | 'verifying' | 'verified' | 'refused';
  /** Per content hash (hex): signer -> signature, one vote per signer per digest. */
  votes: Map<string, Map<number, Uint8Array>>;
  voted: Set<number>;
  cert?: BatchCertificate;
  /** Escalation periods passed without a certificate: the first f+1+ticks/VERIFY_EVERY validators of the verifier order verify. */
  ticks: number;
  nextAt: number;
  /** Not held: when to ask the origin for it (0: not due). */
  fetchAt: number;
  /** Fetches asked so far (rotates the holder asked). */
  fetches: number;
}

export class BatchCertificates {
  private readonly entries = new Map<string, Entry>();
  private readonly retained = new Map<string, BatchCertificate>();
  private readonly f: number;
  private readonly quorum: number;
  /** Validators of a batch's verifier order that verify it on arrival (f + 1 unless configured more). */
  private readonly designatedCount: number;
  /** Validators this node has no link to: skipped in the verifier order until they are back. */
  private readonly down = new Set<number>();
  /**
   * Designated verifiers that sent no vote at all for VERIFY_EVERY periods while a batch they were
   * picked for waited: skipped in the verifier order, like down ones, until a vote of theirs
   * arrives. Without it a silent Byzantine validator held every batch it was picked for (a third of
   * them at n = 4) for the whole first escalation, seconds each, for as long as it stayed silent.
   * An honest verifier behind a long queue still votes for the batches ahead, so it is not taken
   * for silent; only escalation (firstEscalation) makes up for it.
   */
  private readonly silent = new Set<number>();
  /** When each validator's last valid vote arrived. */
  private readonly lastVoteAt = new Map<number, number>();
  private cursor = 0;
  private now = 0;
  private out: CertOutput = emptyOutput();
  verifications = 0;

  constructor(private readonly cfg: BatchCertificatesConfig) {
    this.f = faultTolerance(cfg.validators).f;
    this.quorum = cfg.unsafeQuorum ?? this.f + 1;
    this.designatedCount = Math.min(cfg.validators, Math.max(this.f + 1, cfg.designated ?? this.f + 1));
  }

  /** Entries kept (held batches not yet released, and digests with early votes). */
  get size(): number {
    return this.entries.size;
  }

  /** Whether this validator verifies a batch from `origin` when it first arrives (before any escalation). */
  designated(digest: Hash, origin: number): boolean {
    return this.activeOrder(digest, origin).indexOf(this.cfg.self) < this.designatedCount;
  }

  /** Validators skipped in the verifier order now (no link, or silent past a first escalation), ascending. */
  skipped(): number[] {
    return [...new Set([...this.down, ...this.silent])].sort((a, b) => a - b);
  }

  /**
   * A copy of the batch is held, with this content hash. `origin`: the validator that sent it as
   * its own (-1 if unknown); `verified`: this node already checked every signature (its own batch,
   * verified at admission), so it votes at once.
   */
  held(digest: Hash, content: Hash, origin: number, now: number, verified = false): CertOutput {
    this.begin(now);
    const e = this.entry(digest);
    if (e.origin < 0 && origin >= 0) e.origin = origin;
    const c = hex(content);
    if (e.held !== undefined) return this.finish();
    if (e.cert && hex(e.cert.content) !== c) {
      this.out.mismatch.push(digest);
      return this.finish();
    }
    e.held = c;
    e.heldAt = now;
    e.nextAt = now + this.cfg.escalateMs;
    if (e.cert) this.out.certified.push(digest);
    else if (verified) this.sign(e, content);
    else if (this.position(e) < this.designatedCount) this.startVerify(e);
    else this.tryCertify(e);
    return this.finish();
  }

  /** The signatures of a held batch checked out (`ok`), or one did not (the batch is refused for good). */
  verified(digest: Hash, ok: boolean, now: number): CertOutput {
    this.begin(now);
    const e = this.entries.get(hex(digest));
    if (!e || e.held === undefined || e.state !== 'verifying') return this.finish();
    if (!ok) e.state = 'refused';
    else this.sign(e, hexBytes(e.held));
    return this.finish();
  }

  /** A peer's vote (`from`: the authenticated sender; a vote for someone else is ignored). */
  vote(from: number, v: BatchVote, now: number): CertOutput {
    this.begin(now);
    if (v.signer !== from || from === this.cfg.self) return this.finish();
    const e = this.entries.get(hex(v.digest));
    if (e?.cert) return this.finish();
    if (e?.voted.has(from)) {
      // Said again (a voter repeats its vote every VERIFY_EVERY periods while the batch has no
      // certificate): if this node never got the batch, it fetches it now, so escalation and the
      // silent-verifier rule run here too. Otherwise a batch whose only other designated verifier
      // is silent stayed uncertified for good when every other validator had lost its copy (they
      // were not designated, so they never fetched it, and held nothing to escalate on): the
      // origin's later batches then waited behind it for ever (simulator seeds 6,031 and 14,603).
      if (e.held === undefined && e.fetchAt === 0) e.fetchAt = this.now;
      return this.finish();
    }
    if (!this.cfg.crypto.verify(from, batchVoteBytes(this.cfg.chainId, v.digest, v.content), v.sig)) return this.finish();
    // Voting again: designated again from the next batch on (batches already reassigned stay so).
    this.silent.delete(from);
    this.lastVoteAt.set(from, this.now);
    const entry = e ?? this.entry(v.digest);
    // The origin's own vote for a batch this node must verify: if the batch does not follow, fetch it.
    if (entry.held === undefined && entry.fetchAt === 0 && this.designated(v.digest, from)) {
      entry.origin = from;
      entry.fetchAt = this.now + this.cfg.escalateMs;
    }
    this.addVote(entry, from, hex(v.content), v.sig);
    return this.finish();
  }

  /** A certificate a peer sent (an answer to a request, or with a batch it served). */
  certificate(cert: BatchCertificate, now: number): CertOutput {
    this.begin(now);
    const existing = this.entries.get(hex(cert.digest));
    if (existing?.cert || !this.valid(cert)) return this.finish();
    const e = existing ?? this.entry(cert.digest);
    this.adopt(e, cert);
    return this.finish();
  }

  /** This node's certificate of a digest, if it has one (to answer a request or attach to a served batch). */
  certificateOf(digest: Hash): BatchCertificate | undefined {
    const key = hex(digest);
    return this.entries.get(key)?.cert ?? this.retained.get(key);
  }

  /** Whether the held copy of this batch is certified. */
  certified(digest: Hash): boolean {
    const e = this.entries.get(hex(digest));
    return e?.cert !== undefined && e.held === hex(e.cert.content);
  }

  /** Whether this node refused the batch (it verified it and a signature was bad). */
  refused(digest: Hash): boolean {
    return this.entries.get(hex(digest))?.state === 'refused';
  }

  /** The batch is gone from this node (its block applied, or its copy dropped): forget it. */
  release(digest: Hash): void {
    const key = hex(digest);
    const cert = this.entries.get(key)?.cert;
    this.entries.delete(key);
    if (!cert) return;
    this.retained.set(key, cert);
    for (const k of this.retained.keys()) {
      if (this.retained.size <= RETAINED_CERTS) break;
      this.retained.delete(k);
    }
  }

  /** The held copy was dropped (forged, or the node let it go): a later copy is taken afresh. */
  unhold(digest: Hash): void {
    const e = this.entries.get(hex(digest));
    if (!e) return;
    e.held = undefined;
    if (e.state === 'verifying') e.state = 'waiting';
  }

  /**
   * A validator's link went down or came back. A designated verifier that is down cannot vote, and
   * waiting for escalation behind it (several round timeouts) held every batch it was picked for,
   * and its origin's later batches behind them. Positions are counted without the validators down
   * here, so the next in the order verifies at once. Designation is only who does the work: any
   * f+1 votes certify, so nodes need not agree on who is down.
   */
  peerLink(v: number, up: boolean, now: number): CertOutput {
    this.begin(now);
    if (v === this.cfg.self || up === !this.down.has(v)) return this.finish();
    if (up) this.down.delete(v);
    else this.down.add(v);
    if (!up) this.reassign();
    return this.finish();
  }

  /** Held batches waiting for a verifier now skipped: the next validators of their order verify them at once. */
  private reassign(): void {
    for (const e of this.entries.values()) {
      if (e.held !== undefined && !e.cert && e.state === 'waiting' && this.position(e) < this.designatedCount) this.startVerify(e);
    }
  }

  onTick(now: number): CertOutput {
    this.begin(now);
    if (this.cfg.unsafeNoRecovery) return this.finish();
    const ask: Hash[] = [];
    const first = this.cfg.firstEscalation ?? VERIFY_EVERY;
    let silenced = false;
    for (const e of this.entries.values()) {
      if (e.held === undefined && !e.cert && e.fetchAt > 0 && e.fetchAt <= now) {
        e.fetchAt = now + 4 * this.cfg.escalateMs;
        // Its origin first, then in turn every validator that voted for it (each stores it), then
        // every other (dissemination reached them): asking only the origin let a silent Byzantine
        // one stall the batch for good, and the "origin" is only the first voter heard from, which
        // a Byzantine voter can be, with the honest votes lost.
        const holders = new Set([e.origin, ...e.voted]);
        for (let v = 0; v < this.cfg.validators; v++) holders.add(v);
        holders.delete(this.cfg.self);
        holders.delete(-1);
        const list = [...holders];
        this.out.fetch.push({ digest: e.digest, from: list[e.fetches++ % list.length]! });
      }
      if (e.held === undefined || e.cert || e.state === 'refused' || e.nextAt > now) continue;
      e.ticks++;
      e.nextAt = now + this.cfg.escalateMs;
      // Its silent designated verifiers are skipped from now on: the next in its order stands in
      // for them, so this batch needs no escalation on top in this period.
      const silencedNow = now - e.heldAt >= VERIFY_EVERY * this.cfg.escalateMs && this.silence(e);
      silenced ||= silencedNow;
      // A designated verifier that is silent or Byzantine (signing nothing, or signing bad batches
      // that honest verifiers refuse) is made up for by the next one in the order, one more every
      // VERIFY_EVERY periods. Not sooner: under load an honest verifier's queue is long, and
      // verifying on every short wait made most batches verified by every validator again
      // (bench:cluster at saturation: 3.68 verifications per tx instead of 2).
      const extra = silencedNow || e.ticks < first ? 0 : 1 + Math.floor((e.ticks - first) / VERIFY_EVERY);
      if (e.state === 'waiting' && this.position(e) < this.designatedCount + extra) this.startVerify(e);
      // Votes can be lost: any peer that formed the certificate can hand it over. When nobody
      // formed it (every holder has only its own vote), only sending the votes again helps.
      ask.push(e.digest);
      const own = e.state === 'verified' && e.ticks % VERIFY_EVERY === 0 ? e.votes.get(e.held)?.get(this.cfg.self) : undefined;
      if (own) this.out.votes.push({ digest: e.digest, content: hexBytes(e.held), signer: this.cfg.self, sig: own });
    }
    if (silenced) this.reassign();
    if (ask.length > 0) {
      const to = this.nextPeer();
      for (let i = 0; i < ask.length; i += MAX_CERTS_PER_REQUEST) this.out.requests.push({ to, digests: ask.slice(i, i + MAX_CERTS_PER_REQUEST) });
    }
    return this.finish();
  }

  private position(e: Entry): number {
    return this.activeOrder(e.digest, e.origin).indexOf(this.cfg.self);
  }

  /** The verifier order without the validators skipped now. */
  private activeOrder(digest: Hash, origin: number): number[] {
    const order = verifierOrder(digest, origin, this.cfg.validators);
    return this.down.size === 0 && this.silent.size === 0 ? order : order.filter((v) => !this.down.has(v) && !this.silent.has(v));
  }

  /**
   * The batch has waited VERIFY_EVERY periods without a certificate: its designated verifiers that
   * sent no vote at all since it arrived are taken as silent. True if one was not already.
   */
  private silence(e: Entry): boolean {
    let added = false;
    for (const v of this.activeOrder(e.digest, e.origin).slice(0, this.designatedCount)) {
      if (v === this.cfg.self || e.voted.has(v) || this.silent.has(v) || (this.lastVoteAt.get(v) ?? -1) >= e.heldAt) continue;
      this.silent.add(v);
      added = true;
    }
    return added;
  }

  private startVerify(e: Entry): void {
    e.state = 'verifying';
    this.verifications++;
    this.out.verify.push(e.digest);
  }

  private sign(e: Entry, content: Hash): void {
    e.state = 'verified';
    if (!e.cert) this.out.verifiedHere.push(e.digest);
    const sig = this.cfg.crypto.sign(batchVoteBytes(this.cfg.chainId, e.digest, content));
    this.out.votes.push({ digest: e.digest, content, signer: this.cfg.self, sig });
    this.addVote(e, this.cfg.self, hex(content), sig);
  }

  private addVote(e: Entry, signer: number, content: string, sig: Uint8Array): void {
    if (e.voted.has(signer)) return;
    e.voted.add(signer);
    let m = e.votes.get(content);
    if (!m) e.votes.set(content, (m = new Map()));
    m.set(signer, sig);
    if (m.size >= this.quorum) {
      const signers = [...m.keys()].sort((a, b) => a - b);
      this.adopt(e, { digest: e.digest, content: hexBytes(content), signers, sigs: signers.map((s) => m.get(s)!) });
    }
  }

  private tryCertify(e: Entry): void {
    if (e.cert && e.held === hex(e.cert.content)) this.out.certified.push(e.digest);
  }

  private adopt(e: Entry, cert: BatchCertificate): void {
    e.cert = cert;
    e.votes.clear();
    if (e.held === undefined) return;
    if (e.held === hex(cert.content)) this.out.certified.push(e.digest);
    else {
      // Certified content differs from what this node holds: its copy carries other signatures.
      e.held = undefined;
      if (e.state === 'verifying') e.state = 'waiting';
      this.out.mismatch.push(e.digest);
    }
  }

  private valid(c: BatchCertificate): boolean {
    return validBatchCertificate(c, { chainId: this.cfg.chainId, validators: this.cfg.validators, crypto: this.cfg.crypto, quorum: this.quorum });
  }

  private entry(digest: Hash): Entry {
    const key = hex(digest);
    let e = this.entries.get(key);
    if (e) return e;
    e = { digest, origin: -1, heldAt: -1, state: 'waiting', votes: new Map(), voted: new Set(), ticks: 0, nextAt: 0, fetchAt: 0, fetches: 0 };
    this.entries.set(key, e);
    this.bound();
    return e;
  }

  /** Digests nobody here holds (votes that came first, or a Byzantine signer's junk) are bounded: oldest go first. */
  private bound(): void {
    if (this.entries.size <= MAX_UNHELD) return;
    let unheld = 0;
    for (const e of this.entries.values()) if (e.held === undefined) unheld++;
    for (const [k, e] of this.entries) {
      if (unheld <= MAX_UNHELD / 2) break;
      if (e.held !== undefined) continue;
      this.entries.delete(k);
      unheld--;
    }
  }

  private nextPeer(): number {
    const n = this.cfg.validators;
    let v = this.cursor++ % n;
    if (v === this.cfg.self) v = this.cursor++ % n;
    return v;
  }

  private begin(now: number): void {
    this.now = now;
    this.out = emptyOutput();
  }

  private finish(): CertOutput {
    let at = Number.POSITIVE_INFINITY;
    if (!this.cfg.unsafeNoRecovery) {
      for (const e of this.entries.values()) {
        if (e.held !== undefined && !e.cert && e.state !== 'refused' && e.nextAt < at) at = e.nextAt;
        if (e.held === undefined && !e.cert && e.fetchAt > 0 && e.fetchAt < at) at = e.fetchAt;
      }
    }
    this.out.timer = Number.isFinite(at) ? { at: Math.max(at, this.now) } : null;
    return this.out;
  }
}

function hexBytes(h: string): Uint8Array {
  return new Uint8Array(Buffer.from(h, 'hex'));
}

function emptyOutput(): CertOutput {
  return { verify: [], votes: [], requests: [], certified: [], verifiedHere: [], mismatch: [], fetch: [], timer: null };
}
