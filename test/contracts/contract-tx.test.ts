/**
 * The contract transaction layout (src/tx/contract-tx.ts): encode/decode, the static rules and
 * their codes, framing in a mixed buffer, signatures under their own domain tag, and the worked
 * example of docs/transaction-format.md#contract-transactions, rebuilt from the document alone.
 */
import { readFileSync } from 'node:fs';
import * as ed from '@noble/ed25519';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { describe, expect, it } from 'vitest';
import { MAX_ARGS_SIZE, MAX_CODE_SIZE, MAX_TX_GAS } from '../../src/contracts/limits.js';
import { contractAddress } from '../../src/contracts/state.js';
import { verifySignature } from '../../src/crypto/ed25519.js';
import { keyPairFromSeed } from '../../src/crypto/keys.js';
import { RejectCode } from '../../src/errors.js';
import {
  CtxOff,
  ContractTxError,
  contractSigningMessage,
  contractStaticRejectCode,
  contractTxId,
  contractTxLength,
  decodeContractTx,
  encodeContractTx,
  signContractTx,
  type UnsignedContractTx,
  verifyContractTx,
} from '../../src/tx/contract-tx.js';
import { signTransfer } from '../../src/tx/sign.js';
import { withRun } from './wasm-builder.js';

ed.hashes.sha512 = sha512;

const seed = Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex');
const sender = keyPairFromSeed(seed).publicKey;
const recipient = Buffer.from('3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c', 'hex');
const chainId = 1337;

const deploy: UnsignedContractTx = { kind: 'deploy', chainId, sender, nonce: 1, gasLimit: 2_000_000, code: withRun([]), initArgs: Buffer.from([1, 2, 3]) };
const call: UnsignedContractTx = {
  kind: 'call',
  chainId,
  sender,
  nonce: 2,
  gasLimit: 100_000,
  contract: contractAddress(sender, 1),
  method: 'transfer',
  args: Buffer.concat([recipient, Buffer.from([250, 0, 0, 0, 0, 0, 0, 0])]),
  amount: 0,
};

function code(buf: Uint8Array): number {
  return contractStaticRejectCode(buf, chainId);
}

describe('contract transaction layout', () => {
  it('round-trips a deploy and a call', () => {
    const d = decodeContractTx(signContractTx(deploy, seed), chainId);
    expect(d.kind).toBe('deploy');
    if (d.kind !== 'deploy') throw new Error('kind');
    expect(Buffer.from(d.code).equals(Buffer.from(withRun([])))).toBe(true);
    expect([...d.initArgs]).toEqual([1, 2, 3]);
    expect([d.nonce, d.gasLimit, d.chainId]).toEqual([1, 2_000_000, chainId]);
    const c = decodeContractTx(signContractTx(call, seed), chainId);
    if (c.kind !== 'call') throw new Error('kind');
    expect(c.method).toBe('transfer');
    expect(Buffer.from(c.contract).equals(contractAddress(sender, 1))).toBe(true);
    expect(c.args.length).toBe(40);
    expect(c.amount).toBe(0);
  });

  it('signs under its own domain tag: the signature verifies (libsodium), a changed byte does not, and never as a transfer', () => {
    const tx = signContractTx(call, seed);
    expect(verifyContractTx(tx)).toBe(true);
    for (const off of [CtxOff.NONCE, CtxOff.GAS_LIMIT, tx.length - 65, tx.length - 1]) {
      const t = Buffer.from(tx);
      t[off]! ^= 1;
      expect(verifyContractTx(t), `byte ${off}`).toBe(false);
    }
    expect(contractSigningMessage(tx).subarray(0, 16).toString('latin1')).toBe('hotledger/tx/v2\0');
    // A transfer signature covers 'hotledger/tx/v1\0' ‖ 104 bytes; the same key's v2 signature is not one.
    const transfer = signTransfer({ chainId, sender, recipient, amount: 1, nonce: 1 }, seed);
    expect(verifySignature(transfer.subarray(104), contractSigningMessage(tx), sender)).toBe(false);
  });

  it('has an id that is the SHA-256 of the body and does not depend on the signature', () => {
    const tx = signContractTx(call, seed);
    const id = contractTxId(tx);
    expect(id.equals(Buffer.from(sha256(tx.subarray(0, tx.length - 64))))).toBe(true);
    const t = Buffer.from(tx);
    t.fill(0, t.length - 64);
    expect(contractTxId(t).equals(id)).toBe(true);
  });

  it('frames variable-size transactions in one buffer beside 168-byte transfers', () => {
    const transfer = signTransfer({ chainId, sender, recipient, amount: 5, nonce: 3 }, seed);
    const d = signContractTx(deploy, seed);
    const c = signContractTx(call, seed);
    const batch = Buffer.concat([d, transfer, c]);
    const seen: string[] = [];
    for (let o = 0; o < batch.length; ) {
      if (batch[o] === 1) {
        seen.push('transfer');
        o += 168;
      } else {
        const len = contractTxLength(batch, o);
        expect(len).toBeGreaterThan(0);
        seen.push(decodeContractTx(batch.subarray(o, o + len), chainId).kind);
        o += len;
      }
    }
    expect(seen).toEqual(['deploy', 'transfer', 'call']);
    expect(contractTxLength(batch.subarray(0, d.length - 1))).toBe(0); // the last byte is missing
  });

  it('answers each broken static rule with its stable code', () => {
    const good = signContractTx(call, seed);
    expect(code(good)).toBe(0);
    const mut = (off: number, v: number) => {
      const t = Buffer.from(good);
      t[off] = v;
      return t;
    };
    expect(code(good.subarray(0, 20))).toBe(RejectCode.WRONG_SIZE);
    expect(code(mut(CtxOff.VERSION, 1))).toBe(RejectCode.UNSUPPORTED_VERSION);
    expect(code(mut(CtxOff.KIND, 1))).toBe(RejectCode.UNSUPPORTED_KIND);
    expect(code(mut(CtxOff.FLAGS, 1))).toBe(RejectCode.UNSUPPORTED_KIND);
    expect(code(mut(CtxOff.LENGTH, good.length + 1))).toBe(RejectCode.WRONG_SIZE);
    expect(code(Buffer.concat([good, Buffer.alloc(1)]))).toBe(RejectCode.WRONG_SIZE);
    expect(contractStaticRejectCode(good, 1)).toBe(RejectCode.WRONG_CHAIN);
    const enc = (t: Partial<UnsignedContractTx>) => signContractTx({ ...call, ...t } as UnsignedContractTx, seed);
    expect(code(enc({ nonce: 0 }))).toBe(RejectCode.NONCE_TOO_LOW);
    expect(code(mut(CtxOff.NONCE + 7, 1))).toBe(RejectCode.NONCE_TOO_FAR);
    expect(code(enc({ gasLimit: 0 }))).toBe(RejectCode.GAS_LIMIT_INVALID);
    expect(code(enc({ gasLimit: MAX_TX_GAS + 1 }))).toBe(RejectCode.GAS_LIMIT_INVALID);
    expect(code(enc({ gasLimit: MAX_TX_GAS }))).toBe(0);
    for (const method of ['', 'init', '__hl_gas', 'trans fer', 'x'.repeat(65)]) expect(code(enc({ method } as Partial<UnsignedContractTx>)), method).toBe(RejectCode.BAD_METHOD);
    expect(code(enc({ args: Buffer.alloc(MAX_ARGS_SIZE + 1) } as Partial<UnsignedContractTx>))).toBe(RejectCode.ARGS_TOO_LARGE);
    expect(code(mut(CtxOff.PAYLOAD + 32 + 7, 0x20))).toBe(RejectCode.AMOUNT_TOO_LARGE);
    const bigDeploy = signContractTx({ ...deploy, code: Buffer.alloc(MAX_CODE_SIZE + 1) } as UnsignedContractTx, seed);
    expect(code(bigDeploy)).toBe(RejectCode.CODE_TOO_LARGE);
    // An inner length that does not land exactly on the signature.
    const d = signContractTx(deploy, seed);
    const t = Buffer.from(d);
    t.writeUInt32LE(t.readUInt32LE(CtxOff.PAYLOAD) + 1, CtxOff.PAYLOAD);
    expect(code(t)).toBe(RejectCode.MALFORMED);
    expect(() => decodeContractTx(t, chainId)).toThrow(ContractTxError);
    try {
      decodeContractTx(t, chainId);
    } catch (e) {
      expect((e as ContractTxError).code).toBe('INVALID_TRANSACTION');
      expect((e as ContractTxError).reject).toBe(RejectCode.MALFORMED);
    }
  });

  it('refuses to encode what cannot be encoded at all', () => {
    expect(() => encodeContractTx({ ...call, contract: Buffer.alloc(31) } as UnsignedContractTx)).toThrow(/32 bytes/);
    expect(() => encodeContractTx({ ...call, method: 'é' } as UnsignedContractTx)).toThrow(/ASCII/);
    expect(() => encodeContractTx({ ...call, sender: Buffer.alloc(3) })).toThrow(/32 bytes/);
  });
});

interface Example {
  tx: string;
  signingMessage: string;
  signature: string;
  txId: string;
  contract: string;
}

/** Written from docs/transaction-format.md alone (DataView + noble), nothing from src/tx. */
function independentCall(seed: Uint8Array, contract: Uint8Array, method: string, args: Uint8Array, nonce: number, gasLimit: number, amount: number) {
  const m = new TextEncoder().encode(method);
  const len = 60 + 32 + 8 + 1 + m.length + 4 + args.length + 64;
  const tx = new Uint8Array(len);
  const dv = new DataView(tx.buffer);
  dv.setUint8(0, 2);
  dv.setUint8(1, 3);
  dv.setUint32(4, len, true);
  dv.setUint32(8, chainId, true);
  tx.set(ed.getPublicKey(seed), 12);
  dv.setBigUint64(44, BigInt(nonce), true);
  dv.setBigUint64(52, BigInt(gasLimit), true);
  tx.set(contract, 60);
  dv.setBigUint64(92, BigInt(amount), true);
  dv.setUint8(100, m.length);
  tx.set(m, 101);
  dv.setUint32(101 + m.length, args.length, true);
  tx.set(args, 105 + m.length);
  const body = tx.subarray(0, len - 64);
  const message = new Uint8Array([...new TextEncoder().encode('hotledger/tx/v2\0'), ...body]);
  tx.set(ed.sign(message, seed), len - 64);
  const domainAddress = new Uint8Array([...new TextEncoder().encode('hotledger/contract/v1\0'), ...ed.getPublicKey(seed), 1, 0, 0, 0, 0, 0, 0, 0]);
  return { tx, message, id: sha256(body), address: sha256(domainAddress) };
}

describe('worked example (docs/transaction-format.md#contract-transactions)', () => {
  const ex = JSON.parse(readFileSync(new URL('./fixtures/contract-tx-example.json', import.meta.url), 'utf8')) as Example;
  const doc = readFileSync(new URL('../../docs/transaction-format.md', import.meta.url), 'utf8');

  it('the real code produces the fixture', () => {
    const tx = signContractTx(call, seed);
    expect(tx.toString('hex')).toBe(ex.tx);
    expect(contractSigningMessage(tx).toString('hex')).toBe(ex.signingMessage);
    expect(contractTxId(tx).toString('hex')).toBe(ex.txId);
    expect(contractAddress(sender, 1).toString('hex')).toBe(ex.contract);
  });

  it('a re-implementation from the document alone produces the same bytes', () => {
    const i = independentCall(seed, contractAddress(sender, 1), 'transfer', call.kind === 'call' ? call.args! : new Uint8Array(0), 2, 100_000, 0);
    expect(Buffer.from(i.address).toString('hex')).toBe(ex.contract);
    expect(Buffer.from(i.tx).toString('hex')).toBe(ex.tx);
    expect(Buffer.from(i.message).toString('hex')).toBe(ex.signingMessage);
    expect(Buffer.from(i.id).toString('hex')).toBe(ex.txId);
  });

  it('the document shows the fixture', () => {
    for (const v of [ex.tx, ex.txId, ex.contract, ex.signature]) expect(doc).toContain(v);
  });
});
