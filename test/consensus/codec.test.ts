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
  maxMessageBytes,
  wireLimits,
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

describe('wire codec bounds against hostile encodings', () => {
  const g = genesisQc(1);
  const block = makeBlock({ chainId: 1, round: 1, height: 1, parentHash: g.blockHash, qc: g, payload: [d(1)], proposer: 1, parentStateRoot: d(3), timestampMs: 1 });
  const raw = new Packr({ useRecords: false, moreTypes: false });
  const limits4 = wireLimits(4, 64);
  const invalid = (bytes: Uint8Array, limits = limits4): void => {
    const t0 = performance.now();
    expect(() => decodeMessage(bytes, limits)).toThrow(expect.objectContaining({ code: 'CONSENSUS_INVALID' }));
    // Fast: nothing is allocated or walked in proportion to a claimed size.
    expect(performance.now() - t0).toBeLessThan(500);
  };
  const key = (s: string): number[] => [0xa0 | s.length, ...Buffer.from(s, 'latin1')];

  it('length prefixes that claim GBs fail at once, without allocating them', () => {
    const before = process.memoryUsage().arrayBuffers;
    // {type: <array32 of 2^32-1 entries>} in 11 bytes.
    invalid(Uint8Array.from([0x81, ...key('type'), 0xdd, 0xff, 0xff, 0xff, 0xff]));
    // A 1.6 GB bin32, a 4 GB str32, a map32 of 2^32-1 entries.
    invalid(Uint8Array.from([0x81, ...key('m'), 0xc6, 0x60, 0x00, 0x00, 0x00, 1, 2, 3]));
    invalid(Uint8Array.from([0x81, ...key('m'), 0xdb, 0xff, 0xff, 0xff, 0xff, 1, 2, 3]));
    invalid(Uint8Array.from([0xdf, 0xff, 0xff, 0xff, 0xff, ...key('type')]));
    // array16 claiming more entries than bytes follow, under every cap.
    invalid(Uint8Array.from([0x81, ...key('blocks'), 0xdc, 0x00, 0x40]));
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 * 1024 * 1024);
  });

  it('nesting, extension types, non-string or reserved keys and trailing bytes are refused', () => {
    // A valid vote carrying junk in a field the schema ignores: refused before the schema runs.
    const vote = { round: 1, blockHash: d(1), signer: 0, sig };
    expect(decodeMessage(raw.pack({ type: 'vote', vote, x: 1 }), limits4).type).toBe('vote');
    invalid(raw.pack({ type: 'vote', vote, x: { a: { b: { c: { d: { e: { f: { g: { h: 1 } } } } } } } } }));
    invalid(raw.pack({ type: 'vote', vote, x: new Date(0) })); // timestamp extension
    invalid(raw.pack({ type: 'vote', vote, x: new Uint8Array(65) }));
    invalid(raw.pack({ type: 'vote', vote, x: 'y'.repeat(33) }));
    invalid(new Uint8Array(100_000).fill(0x91)); // 100 000 nested arrays
    invalid(Uint8Array.from([0x81, ...key('type'), 0xd4, 0x01, 0x00])); // fixext1
    invalid(Uint8Array.from([0x81, 0x01, 0x02])); // integer map key
    invalid(Uint8Array.from([0x81, ...key('__proto__'), 0x80]));
    invalid(Uint8Array.from([...encodeMessage({ type: 'sync-request', fromHeight: 1, count: 8 }), 0x00]));
    invalid(Uint8Array.from([0x81, ...key('type')])); // truncated
    invalid(new Uint8Array(0));
    invalid(raw.pack({ type: 'vote', vote: { ...vote, sig: new Uint8Array(65) } }));
    const wide: Record<string, unknown> = { type: 'vote', vote };
    for (let i = 0; i < 15; i++) wide[`k${i}`] = i;
    invalid(raw.pack(wide));
  });

  it('the whole message is capped by what its limits allow', () => {
    const cap = maxMessageBytes(limits4);
    // The largest valid message under the limits fits with room to spare.
    const full = makeBlock({
      ...block,
      payload: Array.from({ length: 64 }, (_, i) => d(i)),
      qc: { round: 0, blockHash: g.blockHash, signatures: [0, 1, 2, 3].map((signer) => ({ signer, sig })) },
    });
    const biggest = encodeMessage({ type: 'sync-response', blocks: Array.from({ length: MAX_SYNC_BLOCKS }, () => full) });
    expect(biggest.length).toBeLessThan(cap);
    expect(decodeMessage(biggest, limits4).type).toBe('sync-response');
    // A valid vote padded with bounded pieces (128 × 128 small binaries) beyond the cap.
    const pad = Array.from({ length: 128 }, () => Array.from({ length: 128 }, () => sig));
    const padded = raw.pack({ type: 'vote', vote: { round: 1, blockHash: d(1), signer: 0, sig }, pad });
    expect(padded.length).toBeGreaterThan(cap);
    invalid(padded);
  });

  it('counts: signers per certificate, digests per block, blocks per answer', () => {
    const sigs = (k: number) => Array.from({ length: k }, (_, signer) => ({ signer, sig }));
    const qc5 = { round: 1, blockHash: d(1), signatures: sigs(5) };
    invalid(encodeMessage({ type: 'sync-info', highQc: qc5, highTc: null }));
    expect(decodeMessage(encodeMessage({ type: 'sync-info', highQc: { ...qc5, signatures: sigs(4) }, highTc: null }), limits4).type).toBe('sync-info');
    // A signer index beyond the set, and a repeated signer.
    invalid(encodeMessage({ type: 'vote', vote: { round: 1, blockHash: d(1), signer: 4, sig } }));
    invalid(
      encodeMessage({
        type: 'sync-info',
        highQc: {
          ...qc5,
          signatures: [
            { signer: 1, sig },
            { signer: 1, sig },
          ],
        },
        highTc: null,
      }),
    );
    const tc5 = { round: 2, timeouts: sigs(5).map((s) => ({ ...s, highQcRound: 1 })), highQc: g };
    invalid(encodeMessage({ type: 'sync-info', highQc: g, highTc: tc5 }));
    invalid(encodeMessage({ type: 'proposal', proposal: { block: makeBlock({ ...block, payload: Array.from({ length: 65 }, (_, i) => d(i)) }), tc: null, sig } }));
    invalid(encodeMessage({ type: 'proposal', proposal: { block: makeBlock({ ...block, proposer: 7 }), tc: null, sig } }));
    invalid(encodeMessage({ type: 'proposal', proposal: { block: makeBlock({ ...block, chainId: 2 ** 32 + 1 }), tc: null, sig } }));
    invalid(encodeMessage({ type: 'blocks-response', blocks: Array.from({ length: 65 }, () => block) }));
    invalid(encodeMessage({ type: 'blocks-request', hash: d(1), count: 0 }));
    invalid(encodeMessage({ type: 'blocks-request', hash: d(1), count: 10_000 }));
    invalid(encodeMessage({ type: 'sync-response', blocks: Array.from({ length: MAX_SYNC_BLOCKS + 1 }, () => block) }));
    // The storage decoders take the same limits.
    expect(() => decodeBlock(encodeBlock(makeBlock({ ...block, proposer: 5 })), limits4)).toThrow(expect.objectContaining({ code: 'CONSENSUS_INVALID' }));
    expect(() => decodeTimeoutCert(encodeTimeoutCert(tc5), limits4)).toThrow(expect.objectContaining({ code: 'CONSENSUS_INVALID' }));
  });

  it('wrong types anywhere in the tree are refused', () => {
    const ok = encodeMessage({ type: 'proposal', proposal: { block, tc: null, sig } });
    expect(decodeMessage(ok, limits4).type).toBe('proposal');
    const base = raw.unpack(ok) as { proposal: { block: Record<string, unknown> } };
    for (const [field, junk] of [
      ['round', '1'],
      ['height', 1.5],
      ['parentHash', [1, 2]],
      ['qc', null],
      ['payload', { 0: d(1) }],
      ['timestampMs', -1],
      ['proposer', true],
    ] as const) {
      const m = structuredClone(base);
      m.proposal.block[field] = junk;
      invalid(raw.pack(m));
    }
  });
});
