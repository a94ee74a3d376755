import { describe, expect, test } from 'vitest';
import { contractAddressOf, Keypair, signCallTx, signDeployTx, u64Arg } from '../../src/client/index.js';
import { contractAddress } from '../../src/contracts/state.js';
import { contractStaticRejectCode, contractTxId, decodeContractTx, signContractTx, verifyContractTx } from '../../src/tx/contract-tx.js';

/** The browser-safe encoder of the client against the node's (src/tx/contract-tx.ts): same bytes, same ids. */
const kp = Keypair.fromSeed('11'.repeat(32));
const other = Keypair.fromSeed('22'.repeat(32));
const hex = (u: Uint8Array) => Buffer.from(u).toString('hex');
const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

const deploys = [
  { name: 'empty code, no init', code: new Uint8Array(0), initArgs: undefined, nonce: 1, gasLimit: 1, chainId: 0 },
  { name: 'small module, u64 init', code: bytes(300, 7), initArgs: Buffer.from(u64Arg(1_000_000n), 'hex'), nonce: 7, gasLimit: 5_000_000, chainId: 1337 },
  { name: 'large code, large init, big nonce', code: bytes(100_000, 3), initArgs: bytes(16 * 1024, 9), nonce: 2 ** 40 + 5, gasLimit: 50_000_000, chainId: 0xffffffff },
  // What the node refuses is still encoded the same way (gas 0, code over the limit).
  { name: 'gas 0, code over the limit', code: bytes(128 * 1024 + 1, 1), initArgs: undefined, nonce: 2, gasLimit: 0, chainId: 9 },
];

const calls = [
  { name: 'no args, no amount', method: 'total_supply', args: undefined, amount: undefined, nonce: 3, gasLimit: 100_000, chainId: 1337 },
  {
    name: 'token transfer args and amount',
    method: 'transfer',
    args: new Uint8Array([...other.publicKey, ...Buffer.from(u64Arg(42), 'hex')]),
    amount: 5,
    nonce: 9,
    gasLimit: 1_000_000,
    chainId: 1,
  },
  { name: 'max amount, long method, big args', method: 'm'.repeat(64), args: bytes(16 * 1024, 5), amount: Number.MAX_SAFE_INTEGER, nonce: 1, gasLimit: 1, chainId: 2 },
  // A reserved method and a 255-character one encode (the node rejects them with BAD_METHOD).
  { name: 'reserved method', method: 'init', args: bytes(1, 1), amount: 0, nonce: 4, gasLimit: 10, chainId: 0 },
  { name: '255-character method', method: 'x'.repeat(255), args: undefined, amount: 0, nonce: 4, gasLimit: 10, chainId: 0 },
];

describe('client contract encoder = node encoder', () => {
  for (const d of deploys) {
    test(`deploy: ${d.name}`, () => {
      const c = signDeployTx({ chainId: d.chainId, from: kp, nonce: d.nonce, gasLimit: d.gasLimit, code: d.code, ...(d.initArgs && { initArgs: d.initArgs }) });
      const n = signContractTx(
        { kind: 'deploy', chainId: d.chainId, sender: kp.publicKey, nonce: d.nonce, gasLimit: d.gasLimit, code: d.code, ...(d.initArgs && { initArgs: d.initArgs }) },
        kp.seed,
      );
      expect(hex(c.bytes)).toBe(n.toString('hex'));
      expect(c.id).toBe(contractTxId(n).toString('hex'));
      expect(c.address).toBe(contractAddress(kp.publicKey, d.nonce).toString('hex'));
      expect(verifyContractTx(c.bytes)).toBe(true);
    });
  }
  for (const t of calls) {
    test(`call: ${t.name}`, () => {
      const contract = contractAddress(other.publicKey, 1);
      const c = signCallTx({
        chainId: t.chainId,
        from: kp,
        nonce: t.nonce,
        gasLimit: t.gasLimit,
        contract: hex(contract),
        method: t.method,
        ...(t.args && { args: t.args }),
        ...(t.amount !== undefined && { amount: t.amount }),
      });
      const n = signContractTx(
        {
          kind: 'call',
          chainId: t.chainId,
          sender: kp.publicKey,
          nonce: t.nonce,
          gasLimit: t.gasLimit,
          contract,
          method: t.method,
          ...(t.args && { args: t.args }),
          ...(t.amount !== undefined && { amount: t.amount }),
        },
        kp.seed,
      );
      expect(hex(c.bytes)).toBe(n.toString('hex'));
      expect(c.id).toBe(contractTxId(n).toString('hex'));
      expect(verifyContractTx(c.bytes)).toBe(true);
    });
  }

  test('a well-formed client call decodes on the node with its fields', () => {
    const contract = contractAddressOf(other.publicKey, 3);
    const c = signCallTx({ chainId: 1337, from: kp, nonce: 12, gasLimit: 250_000, contract, method: 'transfer', args: 'aabb', amount: 7n });
    expect(contractStaticRejectCode(c.bytes, 1337)).toBe(0);
    const d = decodeContractTx(c.bytes, 1337);
    expect(d).toMatchObject({ kind: 'call', nonce: 12, gasLimit: 250_000, method: 'transfer', amount: 7 });
    expect(d.kind === 'call' && hex(d.contract)).toBe(contract);
    expect(d.kind === 'call' && hex(d.args)).toBe('aabb');
  });

  test('hex arguments, u64 helper and bad input', () => {
    expect(u64Arg(1)).toBe('0100000000000000');
    expect(u64Arg(2n ** 64n - 1n)).toBe('ff'.repeat(8));
    expect(() => u64Arg(-1)).toThrow(RangeError);
    const base = { chainId: 1, from: kp, nonce: 1, gasLimit: 1 };
    expect(() => signCallTx({ ...base, contract: 'ab', method: 'x' })).toThrow(/64 hex digits/);
    expect(() => signCallTx({ ...base, contract: hex(kp.publicKey), method: 'x', args: 'abc' })).toThrow(/hex/);
    expect(() => signCallTx({ ...base, contract: hex(kp.publicKey), method: 'é' })).toThrow(/printable ASCII/);
    expect(() => signCallTx({ ...base, contract: hex(kp.publicKey), method: 'x', amount: 2n ** 60n })).toThrow(RangeError);
    expect(() => signDeployTx({ ...base, nonce: -1, code: new Uint8Array(1) })).toThrow(RangeError);
  });
});
