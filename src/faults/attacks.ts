import { randomBytes, randomInt } from 'node:crypto';
import { batchContentHash, batchVoteBytes } from '../ordering/batch-certificate.js';
import { PeerBatchIntake } from '../ordering/peer-batch-intake.js';
import {
  encodeMessage,
  genesisQc,
  makeBlock,
  proposalSigningBytes,
  timeoutSigningBytes,
  voteSigningBytes,
  type Block,
  type ConsensusMessage,
  type QuorumCert,
} from '../consensus/index.js';
import type { KeyPair } from '../crypto/keys.js';
import { generateTransfers } from '../workload/generate.js';
import { txId } from '../tx/codec.js';
import { Off, TX_SIZE, TX_VERSION, TX_KIND_TRANSFER } from '../tx/layout.js';
import type { ByzantinePeer } from './byzantine.js';

/**
 * The Byzantine validator's attacks, one small function each, named after what they send. They
 * follow the wire format of src/ordering/consensus-orderer.ts ('c' consensus, 'b' batch, 'bn' gap
 * request, 'bq' batch request, 'br' batch answer) and src/consensus/codec.ts. Every attack is
 * bounded in count; none waits for an answer. An attack may return a probe: a check of its own
 * (e.g. that the genuine transaction behind a forged copy still commits).
 */
export interface AttackContext {
  peer: ByzantinePeer;
  chainId: number;
  validators: number;
  /** A funded account reserved for attacks (forged copies of its transactions). */
  victim: KeyPair;
  recipient: Uint8Array;
  /** The victim's next nonce, from an honest validator's account API. */
  nextNonce(): Promise<number>;
  /** Submits transactions to an honest validator's API; resolves with the number accepted. */
  submit(txs: Buffer): Promise<number>;
  /** Resolves true once the transaction is committed on every honest validator. */
  committedEverywhere(idHex: string, timeoutMs: number): Promise<boolean>;
}

export interface AttackOutcome {
  /** Messages (frames) put on the wire. */
  sent: number;
  note: string;
  /** A failure reason, or undefined when the attack's own promise held. */
  probe?: () => Promise<string | undefined>;
}

export interface Attack {
  /** Item of issue 8 the attack exercises. */
  item: 4 | 5 | 6 | 9;
  what: string;
  run: (ctx: AttackContext) => Promise<AttackOutcome>;
}

/** 1.6 GB: what `Buffer.from(msg.txs)` on an unchecked `{ length }` map would allocate. */
const BOMB_LENGTH = 1_600_000_000;

const consensus = (m: ConsensusMessage) => ({ k: 'c', m: encodeMessage(m) });

function roundNow(ctx: AttackContext): number {
  return ctx.peer.observed.proposal?.round ?? 1;
}

function highQc(ctx: AttackContext): QuorumCert {
  return ctx.peer.observed.highQc ?? genesisQc(ctx.chainId);
}

/** A block the attacker may legitimately propose in `round`: a sibling of the latest proposal. */
function forgeBlock(ctx: AttackContext, round: number, payload: Uint8Array[] = []): Block {
  const p = ctx.peer.observed.proposal;
  const qc = highQc(ctx);
  return makeBlock({
    chainId: ctx.chainId,
    round,
    height: p ? p.height : 1,
    parentHash: qc.blockHash,
    qc,
    payload,
    proposer: ctx.peer.index,
    parentStateRoot: p ? p.parentStateRoot : new Uint8Array(32),
    timestampMs: Date.now() + randomInt(1_000_000),
  });
}

function proposal(ctx: AttackContext, block: Block): ConsensusMessage {
  return { type: 'proposal', proposal: { block, tc: null, sig: ctx.peer.crypto.sign(proposalSigningBytes(ctx.chainId, block.hash)) } };
}

/** Rounds ahead of `from` that the attacker leads (round-robin: round % n). */
function ledRounds(ctx: AttackContext, from: number, count: number, stride = 1): number[] {
  const n = ctx.validators;
  const first = from + ((ctx.peer.index - (from % n) + n) % n);
  return Array.from({ length: count }, (_, k) => first + k * n * stride);
}

/** Well-formed transfers (right version, kind and chain) from random keys, signed with random bytes. */
function junkTxs(chainId: number, count: number, wellFormed: boolean): Buffer {
  const b = randomBytes(count * TX_SIZE);
  if (!wellFormed) return b;
  for (let i = 0; i < count; i++) {
    const o = i * TX_SIZE;
    b[o + Off.VERSION] = TX_VERSION;
    b[o + Off.KIND] = TX_KIND_TRANSFER;
    b.writeUInt16LE(0, o + Off.FLAGS);
    b.writeUInt32LE(chainId >>> 0, o + Off.CHAIN_ID);
    b.writeBigUInt64LE(1n, o + Off.AMOUNT);
    b.writeBigUInt64LE(1n, o + Off.NONCE);
  }
  return b;
}

let fakeBoot = randomInt(1, 2 ** 31);

export const ATTACKS: Record<string, Attack> = {
  /** Issue 8's 30-byte message: `{ k: 'b', txs: { length: 1.6e9 } }` asks `Buffer.from` for 1.6 GB. */
  'length-bomb': {
    item: 4,
    what: "'b' whose txs is a map { length: 1.6e9 } (26 bytes), 'br' with { length: 4e8 }, 'bq' with { length: 1.6e9 }",
    run: async (ctx) => {
      // One 1.6 GB bomb per validator; the answer path gets a 400 MB one: three validators on one
      // shared machine must not be pushed past its memory by the proof.
      let sent = ctx.peer.broadcast({ k: 'b', txs: { length: BOMB_LENGTH } });
      sent += ctx.peer.broadcast({ k: 'br', txs: [{ length: BOMB_LENGTH / 4 }] });
      sent += ctx.peer.broadcast({ k: 'bq', d: { length: BOMB_LENGTH } });
      await ctx.peer.flushed();
      return { sent, note: 'b with { length: 1.6e9 }, br with { length: 4e8 }, bq with { length: 1.6e9 }' };
    },
  },

  /** msgpack headers that claim huge collections or buffers, with nothing behind them. */
  'huge-claims': {
    item: 4,
    what: 'msgpack array32/map32/bin32/str32 headers claiming 2^31 entries or 1.5 GB, truncated',
    run: async (ctx) => {
      const claims = [
        [0xdd, 0x7f, 0xff, 0xff, 0xff], // array32, 2^31 - 1 entries
        [0xdf, 0x7f, 0xff, 0xff, 0xff], // map32
        [0xc6, 0x60, 0x00, 0x00, 0x00, 1, 2, 3], // bin32, 1.6 GB
        [0xdb, 0x60, 0x00, 0x00, 0x00, 0x61], // str32
        // { k: 'b', txs: <bin32 claiming 1.6 GB> }
        [0x82, 0xa1, 0x6b, 0xa1, 0x62, 0xa3, 0x74, 0x78, 0x73, 0xc6, 0x60, 0x00, 0x00, 0x00],
      ];
      let sent = 0;
      for (const c of claims) {
        if (!(await ctx.peer.connected())) break;
        sent += ctx.peer.broadcastRaw(Uint8Array.from(c));
        await ctx.peer.flushed();
      }
      return { sent, note: `${claims.length} truncated headers; links the receivers close are re-dialed` };
    },
  },

  /** Every message kind with fields of the wrong type, count or size, and a 100,000-deep nesting. */
  'wrong-shapes': {
    item: 4,
    what: 'each message kind with wrong field types, negative/huge numbers, junk consensus bytes, deep nesting',
    run: async (ctx) => {
      const shapes: unknown[] = [
        null,
        42,
        'hello',
        [],
        { k: 'zz' },
        { k: 'c' },
        { k: 'c', m: 7 },
        { k: 'c', m: randomBytes(200) },
        { k: 'c', m: encodeMessage({ type: 'blocks-request', hash: randomBytes(32), count: 2 ** 31 }) },
        { k: 'b', txs: 'abc' },
        { k: 'b', txs: [1, 2, 3] },
        { k: 'b', txs: randomBytes(TX_SIZE + 1), i: -1, n: 1e300 },
        { k: 'b', txs: new Uint8Array(0) },
        { k: 'bq', d: 5 },
        { k: 'bq', d: [1, 'x', null] },
        { k: 'bq', d: Array.from({ length: 10_000 }, () => randomBytes(7)) },
        { k: 'bn', i: 'x', f: -1, t: 1e15 },
        { k: 'bn', i: 1, f: 0, t: Number.MAX_SAFE_INTEGER },
        { k: 'br', txs: 5 },
        { k: 'br', txs: [5, null, 'x'] },
      ];
      let sent = 0;
      for (const s of shapes) sent += ctx.peer.broadcast(s);
      await ctx.peer.flushed();
      // 100,000 nested one-element arrays: a recursive decoder runs out of stack.
      if (await ctx.peer.connected()) {
        const deep = Buffer.alloc(100_001, 0x91);
        deep[100_000] = 0xc0;
        sent += ctx.peer.broadcastRaw(deep);
        await ctx.peer.flushed();
      }
      return { sent, note: `${shapes.length} wrong shapes + 100,000-deep nesting` };
    },
  },

  /** A 60 MB message just under the frame limit, then an 80 MB frame above it. */
  'oversized-frames': {
    item: 4,
    what: 'a 60 MB unknown-kind message (under the 64 MiB frame limit), then an 80 MB frame (over it)',
    run: async (ctx) => {
      let sent = ctx.peer.broadcast({ k: 'zz', pad: Buffer.alloc(60 * 1024 * 1024, 0x5a) });
      await ctx.peer.flushed(60_000);
      if (await ctx.peer.connected()) sent += ctx.peer.broadcast({ k: 'zz', pad: Buffer.alloc(80 * 1024 * 1024, 0x5a) });
      await ctx.peer.flushed(60_000);
      return { sent, note: '60 MB + 80 MB frames' };
    },
  },

  /** Validly signed votes for 20,000 rounds ahead, each for a random block. */
  'future-votes': {
    item: 5,
    what: '20,000 validly signed votes for rounds +10..+20,010, random block hashes',
    run: async (ctx) => {
      const r0 = roundNow(ctx) + 10;
      let sent = 0;
      for (let k = 0; k < 20_000; k++) {
        const round = r0 + k;
        const blockHash = randomBytes(32);
        sent += ctx.peer.broadcast(
          consensus({ type: 'vote', vote: { round, blockHash, signer: ctx.peer.index, sig: ctx.peer.crypto.sign(voteSigningBytes(ctx.chainId, round, blockHash)) } }),
        );
        if (k % 2_000 === 1_999) await ctx.peer.flushed();
      }
      await ctx.peer.flushed();
      return { sent, note: `rounds ${r0}..${r0 + 19_999}` };
    },
  },

  /** Validly signed timeouts for 20,000 rounds ahead, carrying the real high QC. */
  'future-timeouts': {
    item: 5,
    what: '20,000 validly signed timeouts for rounds +10.., with the latest real QC',
    run: async (ctx) => {
      const r0 = roundNow(ctx) + 10;
      const qc = highQc(ctx);
      let sent = 0;
      for (let k = 0; k < 20_000; k++) {
        const round = r0 + k;
        sent += ctx.peer.broadcast(
          consensus({
            type: 'timeout',
            timeout: { round, highQc: qc, signer: ctx.peer.index, sig: ctx.peer.crypto.sign(timeoutSigningBytes(ctx.chainId, round, qc.round)) },
            highTc: null,
          }),
        );
        if (k % 2_000 === 1_999) await ctx.peer.flushed();
      }
      await ctx.peer.flushed();
      return { sent, note: `rounds ${r0}.. with QC of round ${qc.round}` };
    },
  },

  /** Signed proposals for 2,000 far-future rounds the attacker leads, each with 64 unknown batch digests. */
  'future-proposals': {
    item: 5,
    what: '2,000 signed proposals for rounds the attacker leads, +40 rounds and beyond, 64 unknown digests each',
    run: async (ctx) => {
      const rounds = ledRounds(ctx, roundNow(ctx) + 40, 2_000);
      let sent = 0;
      for (const r of rounds) {
        const payload = Array.from({ length: 64 }, () => randomBytes(32));
        sent += ctx.peer.broadcast(consensus(proposal(ctx, forgeBlock(ctx, r, payload))));
        if (sent % 600 === 0) await ctx.peer.flushed();
      }
      await ctx.peer.flushed();
      return { sent, note: `rounds ${rounds[0]}..${rounds.at(-1)}` };
    },
  },

  /** 1,000 different signed proposals for the next round the attacker leads. */
  equivocation: {
    item: 5,
    what: '1,000 different signed proposals for one round the attacker leads (the next one)',
    run: async (ctx) => {
      const [round] = ledRounds(ctx, roundNow(ctx) + 1, 1);
      let sent = 0;
      for (let k = 0; k < 1_000; k++) sent += ctx.peer.broadcast(consensus(proposal(ctx, forgeBlock(ctx, round!, [randomBytes(32)]))));
      await ctx.peer.flushed();
      return { sent, note: `round ${round}` };
    },
  },

  /** 40 batches of 500 junk transactions in sequence (random bytes, then well-formed with bad signatures). */
  'junk-batches': {
    item: 6,
    what: '40 sequenced batches of 500 junk txs (20 random-byte, 20 well-formed with bad signatures)',
    run: async (ctx) => {
      const boot = ++fakeBoot;
      let sent = 0;
      for (let n = 1; n <= 40; n++) {
        sent += ctx.peer.broadcast({ k: 'b', txs: junkTxs(ctx.chainId, 500, n > 20), i: boot, n });
      }
      await ctx.peer.flushed();
      return { sent, note: '20,000 junk txs' };
    },
  },

  /**
   * A batch holding a zero-signature copy of the victim's next transaction, sent before the genuine
   * one reaches any validator: the genuine transaction must still commit (issue 8, item 1).
   */
  'forged-copy': {
    item: 6,
    what: "a batch with a zero-signature copy of a victim's next tx, then the genuine tx via the API",
    run: async (ctx) => {
      const nonce = await ctx.nextNonce();
      const genuine = generateTransfers({ chainId: ctx.chainId, senders: [ctx.victim], recipients: [ctx.recipient], count: 1, startNonces: [nonce] });
      // Same body, so the same tx id; the signature is 64 zero bytes.
      const forged = Buffer.from(genuine);
      forged.fill(0, Off.SIGNATURE, Off.SIGNATURE + 64);
      const id = txId(genuine, 0).toString('hex');
      // Alone, and inside a batch of otherwise valid-looking junk.
      let sent = ctx.peer.broadcast({ k: 'b', txs: forged, i: ++fakeBoot, n: 1 });
      sent += ctx.peer.broadcast({ k: 'b', txs: Buffer.concat([junkTxs(ctx.chainId, 10, true), forged]), i: fakeBoot, n: 2 });
      sent += ctx.peer.broadcast({ k: 'br', txs: [forged] });
      await ctx.peer.flushed();
      await new Promise((r) => setTimeout(r, 1_500)); // let the forged copies reach blocks if they can
      const accepted = await ctx.submit(genuine);
      return {
        sent,
        note: `forged copy of tx ${id.slice(0, 12)} (nonce ${nonce}); genuine accepted=${accepted}`,
        probe: async () => {
          if (accepted !== 1) return `the genuine tx ${id.slice(0, 12)} was refused at admission after its forged copy`;
          return (await ctx.committedEverywhere(id, 15_000))
            ? undefined
            : `the genuine tx ${id.slice(0, 12)} did not commit on every honest validator within 15 s after its forged copy`;
        },
      };
    },
  },

  /**
   * The attacker, a validator and the batch's origin, vouches for its own batch holding one bad
   * signature: the batch goes out with its signed batch vote ('bv'). A certificate needs f + 1
   * votes and the honest designated verifiers (and the escalated ones) refuse, so the batch never
   * certifies and its transactions never commit.
   */
  'vouched-bad-batch': {
    item: 6,
    what: "a sequenced batch of 3 victim txs, the second with a zero signature, and the attacker's signed batch vote for it",
    run: async (ctx) => {
      const nonce = await ctx.nextNonce();
      const txs = generateTransfers({ chainId: ctx.chainId, senders: [ctx.victim], recipients: [ctx.recipient], count: 3, startNonces: [nonce] });
      txs.fill(0, TX_SIZE + Off.SIGNATURE, TX_SIZE + Off.SIGNATURE + 64);
      const { digest } = PeerBatchIntake.identify(txs);
      const content = batchContentHash(txs);
      let sent = ctx.peer.broadcast({ k: 'b', txs, i: ++fakeBoot, n: 1 });
      sent += ctx.peer.broadcast({ k: 'bv', d: digest, h: content, s: ctx.peer.crypto.sign(batchVoteBytes(ctx.chainId, digest, content)) });
      await ctx.peer.flushed();
      const bad = txId(txs, TX_SIZE).toString('hex');
      return {
        sent,
        note: `batch of victim nonces ${nonce}..${nonce + 2}, tx ${bad.slice(0, 12)} with a zero signature, vouched for`,
        // Escalation reaches every honest validator within 4 + 2 round timeouts (6 s at 1 s).
        probe: async () => ((await ctx.committedEverywhere(bad, 8_000)) ? `the tx ${bad.slice(0, 12)} with a bad signature committed` : undefined),
      };
    },
  },

  /** 200 batch answers nobody asked for: junk, and a real batch again and again. */
  'unsolicited-answers': {
    item: 6,
    what: "200 unsolicited 'br' answers of 100 junk txs, plus 50 batches in one answer",
    run: async (ctx) => {
      let sent = 0;
      for (let k = 0; k < 200; k++) sent += ctx.peer.broadcast({ k: 'br', txs: [junkTxs(ctx.chainId, 100, k % 2 === 0)] });
      sent += ctx.peer.broadcast({ k: 'br', txs: Array.from({ length: 50 }, () => junkTxs(ctx.chainId, 20, true)) });
      await ctx.peer.flushed();
      return { sent, note: '20,000 + 1,000 junk txs in answers' };
    },
  },

  /** 3,000 requests for 64 real (recently proposed) batches each. */
  'batch-request-flood': {
    item: 9,
    what: "3,000 'bq' requests for the 64 most recently proposed batches",
    run: async (ctx) => {
      const d = ctx.peer.observed.digests.slice(-64);
      let sent = 0;
      for (let k = 0; k < 3_000; k++) sent += ctx.peer.broadcast({ k: 'bq', d });
      await ctx.peer.flushed();
      return { sent, note: `${d.length} real digests per request` };
    },
  },

  /** 2,000 forward-sync requests from genesis (128 blocks each) and 500 block requests for 2^31 blocks. */
  'sync-request-flood': {
    item: 9,
    what: '2,000 sync-requests (fromHeight 1, count 128) and 500 blocks-requests (count 2^31)',
    run: async (ctx) => {
      let sent = 0;
      const hash = highQc(ctx).blockHash;
      for (let k = 0; k < 2_000; k++) sent += ctx.peer.broadcast(consensus({ type: 'sync-request', fromHeight: 1, count: 128 }));
      for (let k = 0; k < 500; k++) sent += ctx.peer.broadcast(consensus({ type: 'blocks-request', hash, count: 2 ** 31 }));
      await ctx.peer.flushed();
      return { sent, note: 'from genesis' };
    },
  },

  /** 2,000 requests to resend every batch an honest validator ever sealed. */
  'gap-request-flood': {
    item: 9,
    what: "2,000 'bn' requests per validator for sequence numbers 1..2^53 of its real boot id",
    run: async (ctx) => {
      let sent = 0;
      for (const [to, { boot }] of ctx.peer.observed.boots) {
        for (let k = 0; k < 2_000; k++) if (ctx.peer.transport.isConnected(to) && ctx.peer.transport.send(to, { k: 'bn', i: boot, f: 1, t: Number.MAX_SAFE_INTEGER })) sent++;
      }
      await ctx.peer.flushed();
      return { sent, note: `${ctx.peer.observed.boots.size} boot ids seen` };
    },
  },
};
