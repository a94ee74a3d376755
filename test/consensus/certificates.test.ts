import { describe, expect, it } from 'vitest';
import { CertVerifier } from '../../src/consensus/certificates.js';
import { ConsensusCore } from '../../src/consensus/core.js';
import { RoundRobin } from '../../src/consensus/leader-election.js';
import { genesisQc, makeBlock, proposalSigningBytes, timeoutSigningBytes, voteSigningBytes, type QuorumCert, type Timeout, type Vote } from '../../src/consensus/types.js';
import { VoteAggregator, type EquivocationEvent } from '../../src/consensus/vote-aggregator.js';
import { ed25519CryptoSet } from '../../src/sim/sim-crypto.js';

const CHAIN = 1;
const N = 4; // f = 1, quorum = 3
const cryptos = ed25519CryptoSet(9, N);
const verifier = new CertVerifier(CHAIN, N, cryptos[0]!);
const H = new Uint8Array(32).fill(7);
const H2 = new Uint8Array(32).fill(8);

const vote = (signer: number, round = 3, hash = H): Vote => ({
  round,
  blockHash: hash,
  signer,
  sig: cryptos[signer]!.sign(voteSigningBytes(CHAIN, round, hash)),
});

function collect(votes: Vote[]): { qc: QuorumCert | null; events: EquivocationEvent[] } {
  const agg = new VoteAggregator(verifier.quorum);
  const events: EquivocationEvent[] = [];
  let qc: QuorumCert | null = null;
  for (const v of votes) if (verifier.vote(v)) qc = agg.addVote(v, events) ?? qc;
  return { qc, events };
}

describe('QC formation', () => {
  it('forms a QC from 2f+1 distinct validators, and it verifies', () => {
    const { qc } = collect([vote(0), vote(1), vote(2)]);
    expect(qc).not.toBeNull();
    expect(qc!.signatures.map((s) => s.signer)).toEqual([0, 1, 2]);
    expect(verifier.qc(qc!)).toBe(true);
  });

  it('duplicate votes from one validator do not count', () => {
    expect(collect([vote(0), vote(0), vote(1), vote(1)]).qc).toBeNull();
    const dupQc: QuorumCert = { round: 3, blockHash: H2, signatures: [vote(0, 3, H2), vote(0, 3, H2), vote(1, 3, H2)] };
    expect(new CertVerifier(CHAIN, N, cryptos[0]!).qc(dupQc)).toBe(false);
  });

  it('votes with bad signatures do not count', () => {
    const forged = { ...vote(2), sig: vote(2, 4).sig }; // valid signature, but for another round
    const tampered = { ...vote(1), sig: Uint8Array.from(vote(1).sig, (b, i) => (i === 0 ? b ^ 1 : b)) };
    expect(verifier.vote(forged)).toBe(false);
    expect(verifier.vote(tampered)).toBe(false);
    expect(collect([vote(0), forged, tampered]).qc).toBeNull();
    const badQc: QuorumCert = { round: 3, blockHash: H2, signatures: [vote(0, 3, H2), vote(1, 3, H2), { signer: 2, sig: new Uint8Array(64) }] };
    expect(new CertVerifier(CHAIN, N, cryptos[0]!).qc(badQc)).toBe(false);
  });

  it('unknown validator indices are rejected', () => {
    const stranger = ed25519CryptoSet(99, 5)[4]!;
    const v: Vote = { round: 3, blockHash: H, signer: 4, sig: stranger.sign(voteSigningBytes(CHAIN, 3, H)) };
    expect(verifier.vote(v)).toBe(false);
    expect(verifier.vote({ ...v, signer: -1 })).toBe(false);
    const qc: QuorumCert = { round: 3, blockHash: H2, signatures: [vote(0, 3, H2), vote(1, 3, H2), { signer: 4, sig: v.sig }] };
    expect(new CertVerifier(CHAIN, N, cryptos[0]!).qc(qc)).toBe(false);
  });

  it('fewer than 2f+1 signatures is not a QC; only genesis needs none', () => {
    const qc: QuorumCert = { round: 3, blockHash: H2, signatures: [vote(0, 3, H2), vote(1, 3, H2)] };
    expect(new CertVerifier(CHAIN, N, cryptos[0]!).qc(qc)).toBe(false);
    expect(verifier.qc(genesisQc(CHAIN))).toBe(true);
    expect(verifier.qc({ round: 0, blockHash: H, signatures: [] })).toBe(false);
  });

  it('a vote signature is domain-separated: not valid for a tx, another chain or a timeout', () => {
    const bytes = voteSigningBytes(CHAIN, 3, H);
    expect(Buffer.from(bytes.subarray(0, 18)).toString('latin1')).toBe('hotledger/vote/v1\0');
    const v = vote(0);
    expect(new CertVerifier(CHAIN + 1, N, cryptos[0]!).vote(v)).toBe(false);
    expect(cryptos[0]!.verify(0, timeoutSigningBytes(CHAIN, 3, 2), v.sig)).toBe(false);
  });
});

describe('TC formation', () => {
  const timeout = (signer: number, round: number, hq: QuorumCert): Timeout => ({
    round,
    highQc: hq,
    signer,
    sig: cryptos[signer]!.sign(timeoutSigningBytes(CHAIN, round, hq.round)),
  });

  it('forms a TC from 2f+1 distinct timeouts, verifies it, and reports the highest QC round', () => {
    const g = genesisQc(CHAIN);
    const agg = new VoteAggregator(verifier.quorum);
    expect(agg.addTimeout(timeout(0, 1, g))).toBeNull();
    expect(agg.addTimeout(timeout(0, 1, g))).toBeNull();
    expect(agg.addTimeout(timeout(1, 1, g))).toBeNull();
    const tc = agg.addTimeout(timeout(3, 1, g));
    expect(tc).not.toBeNull();
    expect(tc!.timeouts.map((t) => t.signer)).toEqual([0, 1, 3]);
    expect(verifier.tc(tc!)).toBe(true);
    expect(verifier.timeout(timeout(2, 1, g))).toBe(true);
    const forged = { ...tc!, timeouts: tc!.timeouts.map((t) => (t.signer === 3 ? { ...t, highQcRound: 0, signer: 2 } : t)) };
    expect(new CertVerifier(CHAIN, N, cryptos[0]!).tc(forged)).toBe(false);
    const short = { ...tc!, timeouts: tc!.timeouts.slice(0, 2) };
    expect(new CertVerifier(CHAIN, N, cryptos[0]!).tc(short)).toBe(false);
  });
});

describe('leader election', () => {
  it('rotates round-robin over validator indices', () => {
    const le = new RoundRobin(4);
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((r) => le.leader(r))).toEqual([1, 2, 3, 0, 1, 2, 3, 0]);
    expect(() => new RoundRobin(0)).toThrow();
  });
});

describe('equivocation detection', () => {
  it('two votes for one round from one key are reported once; both still verify', () => {
    const { events } = collect([vote(1, 3, H), vote(1, 3, H2), vote(1, 3, H2), vote(2, 3, H)]);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ type: 'equivocation', kind: 'vote', round: 3, validator: 1 });
  });

  it('two proposals for one round from its leader are reported by the core', () => {
    const core = new ConsensusCore({ chainId: CHAIN, validators: N, self: 0, timeoutMs: 1000, heartbeatMs: 100, crypto: cryptos[0]! });
    core.start(0);
    const g = genesisQc(CHAIN);
    const mk = (ts: number) => {
      const block = makeBlock({ chainId: CHAIN, round: 1, height: 1, parentHash: g.blockHash, qc: g, payload: [], proposer: 1, parentStateRoot: H, timestampMs: ts });
      return { type: 'proposal' as const, proposal: { block, tc: null, sig: cryptos[1]!.sign(proposalSigningBytes(CHAIN, block.hash)) } };
    };
    const first = core.onMessage(1, mk(1), 1);
    expect(first.events).toEqual([]);
    expect(first.send.filter((s) => s.msg.type === 'vote')).toHaveLength(1);
    const second = core.onMessage(1, mk(2), 2);
    expect(second.events).toContainEqual(expect.objectContaining({ type: 'equivocation', kind: 'proposal', round: 1, validator: 1 }));
    expect(second.send.filter((s) => s.msg.type === 'vote')).toHaveLength(0);
    expect(core.status().equivocations).toBe(1);
    // A proposal signed by a non-leader is rejected, not counted as equivocation.
    const fake = mk(3);
    fake.proposal.sig = cryptos[2]!.sign(proposalSigningBytes(CHAIN, fake.proposal.block.hash));
    expect(core.onMessage(2, fake, 3).events).toContainEqual(expect.objectContaining({ type: 'invalid' }));
    expect(core.status().equivocations).toBe(1);
  });
});
