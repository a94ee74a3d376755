import { Packr } from 'msgpackr';
import { describe, expect, it } from 'vitest';
import {
  decodeBlock,
  decodeMessage,
  decodeSafetyData,
  decodeTimeoutCert,
  encodeBlock,
  MAX_SYNC_BLOCKS,
  encodeMessage,
  encodeSafetyData,
  encodeTimeoutCert,
} from '../../src/consensus/codec.js';
import { HotledgerError } from '../../src/errors.js';
import { genesisQc, hex, makeBlock, type ConsensusMessage } from '../../src/consensus/types.js';

const d = (b: number): Uint8Array => new Uint8Array(32).fill(b);
const sig = new Uint8Array(64).fill(9);

describe('wire codec', () => {
  const g = genesisQc(1);
  const block = makeBlock({ chainId: 1, round: 1, height: 1, parentHash: g.blockHash, qc: g, payload: [d(1), d(2)], proposer: 1, parentStateRoot: d(3), timestampMs: 1234 });

  it('round-trips every message type, recomputing block hashes', () => {
    const msgs: ConsensusMessage[] = [
      { type: 'proposal', proposal: { block, tc: { round: 0, timeouts: [{ signer: 1, highQcRound: 0, sig }], highQc: g }, sig } },
      { type: 'vote', vote: { round: 1, blockHash: block.hash, signer: 2, sig } },
      { type: 'timeout', timeout: { round: 2, highQc: { round: 1, blockHash: block.hash, signatures: [{ signer: 0, sig }] }, signer: 3, sig }, highTc: null },
      { type: 'sync-info', highQc: g, highTc: null },
      { type: 'blocks-request', hash: block.hash, count: 32 },
      { type: 'blocks-response', blocks: [block] },
      { type: 'sync-request', fromHeight: 1001, count: 64 },
      { type: 'sync-response', blocks: [block] },
      { type: 'sync-response', blocks: [] },
    ];
    for (const m of msgs) {
      const back = decodeMessage(encodeMessage(m));
      expect(JSON.stringify(back, (_k, v) => (v instanceof Uint8Array ? hex(v) : v))).toBe(JSON.stringify(m, (_k, v) => (v instanceof Uint8Array ? hex(v) : v)));
    }
  });

  it('a block whose hash field lies is corrected by decoding (the hash is not sent)', () => {
    const lying = { ...block, hash: d(0xee) };
    const back = decodeMessage(encodeMessage({ type: 'blocks-response', blocks: [lying] }));
    expect(back.type === 'blocks-response' && hex(back.blocks[0]!.hash)).toBe(hex(block.hash));
  });

  it('round-trips the records the environment persists', () => {
    const sd = { version: 1 as const, lastVotedRound: 9, highQc: { round: 8, blockHash: d(4), signatures: [{ signer: 1, sig }] } };
    expect(decodeSafetyData(encodeSafetyData(sd))).toEqual(sd);
    expect(hex(decodeBlock(encodeBlock(block)).hash)).toBe(hex(block.hash));
    const tcert = { round: 3, timeouts: [{ signer: 0, highQcRound: 1, sig }], highQc: g };
    expect(decodeTimeoutCert(encodeTimeoutCert(tcert))).toEqual({ ...tcert, highQc: { ...g, blockHash: Uint8Array.from(g.blockHash) } });
    expect(() => decodeSafetyData(encodeSafetyData({ ...sd, version: 2 as unknown as 1 }))).toThrow(HotledgerError);
  });

  it('sync-response blocks travel without their hash and get it recomputed', () => {
    const back = decodeMessage(encodeMessage({ type: 'sync-response', blocks: [{ ...block, hash: d(0xee) }] }));
    expect(back.type === 'sync-response' && hex(back.blocks[0]!.hash)).toBe(hex(block.hash));
  });

  it('bounds forward-sync messages', () => {
    const many = Array.from({ length: MAX_SYNC_BLOCKS }, () => block);
    expect(decodeMessage(encodeMessage({ type: 'sync-response', blocks: many })).type).toBe('sync-response');
    expect(decodeMessage(encodeMessage({ type: 'sync-request', fromHeight: 0, count: MAX_SYNC_BLOCKS })).type).toBe('sync-request');
    const bad = [
      encodeMessage({ type: 'sync-response', blocks: [...many, block] }),
      encodeMessage({ type: 'sync-request', fromHeight: 1, count: 0 }),
      encodeMessage({ type: 'sync-request', fromHeight: 1, count: MAX_SYNC_BLOCKS + 1 }),
      encodeMessage({ type: 'sync-request', fromHeight: -1, count: 8 }),
      encodeMessage({ type: 'sync-request', fromHeight: 2 ** 53, count: 8 }),
      encodeMessage({ type: 'sync-request', count: 8 } as unknown as ConsensusMessage),
      encodeMessage({ type: 'sync-response', blocks: [{ ...block, payload: 'x' }] } as unknown as ConsensusMessage),
      new Packr({ useRecords: false }).pack({ type: 'sync-response', blocks: null }),
    ];
    for (const b of bad) expect(() => decodeMessage(b)).toThrow(expect.objectContaining({ code: 'CONSENSUS_INVALID' }));
  });

  it('rejects malformed input with CONSENSUS_INVALID', () => {
    const bad = [
      new Uint8Array([0xc1]),
      encodeMessage({ type: 'vote', vote: { round: 1, blockHash: d(1).subarray(0, 31), signer: 0, sig } }),
      encodeMessage({ type: 'vote', vote: { round: -1, blockHash: d(1), signer: 0, sig } }),
      encodeMessage({ type: 'blocks-request', hash: d(1), count: 1.5 }),
      encodeMessage({ type: 'nope' } as unknown as ConsensusMessage),
    ];
    for (const b of bad) {
      expect(() => decodeMessage(b)).toThrow(HotledgerError);
      try {
        decodeMessage(b);
      } catch (e) {
        expect((e as HotledgerError).code).toBe('CONSENSUS_INVALID');
      }
    }
  });
});
