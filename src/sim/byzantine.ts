import type { ConsensusCrypto } from '../consensus/crypto.js';
import { SafetyRules, type Decision } from '../consensus/safety-rules.js';
import { hex, makeBlock, proposalSigningBytes, voteSigningBytes, type Block, type ConsensusMessage, type QuorumCert, type TimeoutCert } from '../consensus/types.js';
import type { Prng } from './prng.js';

export type ByzantineMode = 'equivocate' | 'double-vote' | 'silent' | 'fork';

/**
 * A voting rule that approves everything: Byzantine nodes use it, and so does the broken-rule test.
 * It keeps SafetyRules' bookkeeping (high QC, last voted round) and drops every check.
 */
export class RecklessRules extends SafetyRules {
  override voteFor(block: Block, _tc: TimeoutCert | null): Decision {
    this.state = { ...this.state, lastVotedRound: Math.max(this.state.lastVotedRound, block.round) };
    return { ok: true };
  }

  override timeoutFor(round: number, _highQc: QuorumCert): Decision {
    this.state = { ...this.state, lastVotedRound: Math.max(this.state.lastVotedRound, round) };
    return { ok: true };
  }
}

/** What colluding Byzantine validators share: the twin block of each equivocated round. */
export class Collusion {
  readonly twins = new Map<number, Uint8Array>();
  /** Every block seen on the network: what a fork needs to build on. */
  readonly blocks = new Map<string, Block>();
}

type Send = { to: number; msg: ConsensusMessage };

/**
 * Rewrites a Byzantine node's outgoing messages. Its core runs the protocol (with RecklessRules);
 * this layer adds the attacks: a leader sends two different, validly signed proposals for its
 * round to two halves of the network; a voter also votes for a conflicting block in the round.
 */
export function byzantineSends(
  mode: ByzantineMode,
  self: number,
  n: number,
  chainId: number,
  crypto: ConsensusCrypto,
  sends: { to: number | 'all'; msg: ConsensusMessage }[],
  rng: Prng,
  collusion: Collusion,
): Send[] {
  const others = Array.from({ length: n }, (_, i) => i).filter((i) => i !== self);
  const expand = (to: number | 'all'): number[] => (to === 'all' ? others : [to]);
  const out: Send[] = [];
  if (mode === 'silent') return out;
  for (const s of sends) {
    const m = s.msg;
    if (mode === 'fork' && m.type === 'proposal' && m.proposal.tc !== null) {
      // After a TC, build on the grandparent of the certified block instead: a block at the
      // height of one that may already be committed. Only the TC high-QC rule stops votes for it.
      const p = collusion.blocks.get(hex(m.proposal.block.parentHash));
      const p1 = p && collusion.blocks.get(hex(p.parentHash));
      if (p1 !== undefined && p1.height > 0) {
        const b = m.proposal.block;
        const fork = makeBlock({ ...withoutHash(b), parentHash: p1.parentHash, qc: p1.qc, height: p1.height });
        const sig = crypto.sign(proposalSigningBytes(chainId, fork.hash));
        for (const to of expand(s.to)) out.push({ to, msg: { type: 'proposal', proposal: { block: fork, tc: m.proposal.tc, sig } } });
        continue;
      }
    }
    if (mode === 'equivocate' && m.type === 'proposal') {
      const b = m.proposal.block;
      const twin = makeBlock({ ...withoutHash(b), timestampMs: b.timestampMs + 1 + rng.int(0, 9) });
      collusion.twins.set(b.round, twin.hash);
      const twinMsg: ConsensusMessage = {
        type: 'proposal',
        proposal: { block: twin, tc: m.proposal.tc, sig: crypto.sign(proposalSigningBytes(chainId, twin.hash)) },
      };
      // Vote for the twin too, so both halves can certify their block.
      // Votes are broadcast: the twin's goes to everyone too.
      const twinVote = { round: b.round, blockHash: twin.hash, signer: self, sig: crypto.sign(voteSigningBytes(chainId, b.round, twin.hash)) };
      for (const to of expand('all')) out.push({ to, msg: { type: 'vote', vote: twinVote } });
      for (const to of expand(s.to)) {
        const r = rng.int(0, 3);
        if (r === 0 || r === 3) out.push({ to, msg: m });
        if (r === 1 || r === 3) out.push({ to, msg: twinMsg });
        if (r === 2) out.push({ to, msg: to % 2 === 0 ? m : twinMsg });
      }
      continue;
    }
    for (const to of expand(s.to)) out.push({ to, msg: m });
    if (mode === 'double-vote' && m.type === 'vote') {
      const v = m.vote;
      const twin = collusion.twins.get(v.round);
      const other = twin !== undefined && hex(twin) !== hex(v.blockHash) ? twin : rng.bytes(32);
      const sig = crypto.sign(voteSigningBytes(chainId, v.round, other));
      for (const to of expand(s.to)) out.push({ to, msg: { type: 'vote', vote: { ...v, blockHash: other, sig } } });
    }
  }
  return out;
}

function withoutHash(b: Block): Omit<Block, 'hash'> {
  const { hash: _h, ...rest } = b;
  return rest;
}
