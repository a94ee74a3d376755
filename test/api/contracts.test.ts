import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { HotledgerClient, Keypair, u64Arg } from '../../src/client/index.js';
import { feeFor } from '../../src/contracts/limits.js';
import { MAX_CONTRACT_KEYS } from '../../src/api/routes.js';
import { getJson, waitFor, type ApiHarness, startApi } from './support/api.js';

/**
 * Contracts through the interfaces, against a real in-process node behind the real uWS server:
 * the example token (dist/contracts/token.wasm, built by `npm run build`) deployed and called by
 * the client (binary submission), read back with GET /api/v11/contracts/:address, receipts in the
 * transaction view, events in the WebSocket feed.
 */
const TOKEN = resolve('dist/contracts/token.wasm');
const SUPPLY = 1_000_000n;

let h: ApiHarness;
let client: HotledgerClient;
beforeAll(async () => {
  h = await startApi({ overrides: { chain: { genesis: { devnetAccounts: 4 } } } });
  client = new HotledgerClient(h.base, { durableTimeoutMs: 20_000 });
});
afterAll(async () => {
  client?.close();
  await h?.close();
});

const kp = (i: number) => Keypair.fromSeed(h.tn.keys[i]!.seed);
const hexU64 = (v: bigint) => u64Arg(v);
const balanceKey = (pk: string) => `62${pk}`; // "b" ‖ account, contracts/token.ts

function expectError(r: { status: number; body: any }, status: number, code: string): void {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body.error.code).toBe(code);
  expect(r.body.error.message.length).toBeGreaterThan(0);
}

describe('GET /api/v11/contracts/:address input', () => {
  test('unknown address 404 CONTRACT_NOT_FOUND; bad address, bad key, too many keys 400', async () => {
    const none = 'ab'.repeat(32);
    const r = await getJson(`${h.base}/api/v11/contracts/${none}`);
    expectError(r, 404, 'CONTRACT_NOT_FOUND');
    expect(r.body.error.address).toBe(none);
    expect(await client.getContract(none)).toBeUndefined();
    expectError(await getJson(`${h.base}/api/v11/contracts/xyz`), 400, 'BAD_REQUEST');
    expectError(await getJson(`${h.base}/api/v11/contracts/${'zz'.repeat(32)}`), 400, 'BAD_REQUEST');
    expectError(await getJson(`${h.base}/api/v11/contracts/${none}?key=abc`), 400, 'BAD_REQUEST');
    expectError(await getJson(`${h.base}/api/v11/contracts/${none}?key=zz`), 400, 'BAD_REQUEST');
    expectError(await getJson(`${h.base}/api/v11/contracts/${none}?key=${'00'.repeat(1025)}`), 400, 'BAD_REQUEST');
    const many = Array.from({ length: MAX_CONTRACT_KEYS + 1 }, (_, i) => `key=${i.toString(16).padStart(2, '0')}`).join('&');
    expectError(await getJson(`${h.base}/api/v11/contracts/${none}?${many}`), 400, 'BAD_REQUEST');
  });
});

describe('the token contract end to end', () => {
  let address = '';
  const code = () => readFileSync(TOKEN);

  test('deploy: receipt OK with the address; GET shows code hash, deployer, size, balance and storage', async () => {
    const owner = kp(0);
    const before = (await client.account(owner.publicKey))!;
    const d = await client.deploy({ from: owner, code: code(), initArgs: hexU64(SUPPLY), gasLimit: 5_000_000 });
    expect(d.receipt.status).toBe('OK');
    expect(d.receipt.address).toBe(d.address);
    expect(d.receipt.gasUsed).toBeGreaterThan(0);
    expect(d.receipt.fee).toBe(feeFor(d.receipt.gasUsed));
    address = d.address;
    const after = (await client.account(owner.publicKey))!;
    // The deploy used the sender's nonce sequence and cost exactly its fee.
    expect(after.nonce).toBe(before.nonce + 1);
    expect(before.balance - after.balance).toBe(BigInt(d.receipt.fee));

    const g = await getJson(`${h.base}/api/v11/contracts/${address}?key=73&key=${balanceKey(owner.publicKeyHex)}&key=${balanceKey(kp(1).publicKeyHex)}`);
    expect(g.status, JSON.stringify(g.body)).toBe(200);
    expect(g.body).toEqual({
      address,
      codeHash: createHash('sha256').update(code()).digest('hex'),
      deployer: owner.publicKeyHex,
      balance: '0',
      codeSize: code().length,
      storage: { '73': hexU64(SUPPLY), [balanceKey(owner.publicKeyHex)]: hexU64(SUPPLY), [balanceKey(kp(1).publicKeyHex)]: null },
    });
    const c = await client.getContract(address, ['73']);
    expect(c).toMatchObject({ address, balance: 0n, storage: { '73': hexU64(SUPPLY) } });
  });

  test('call transfer: receipt with the event, in the tx view and on the WebSocket feed; storage moved', async () => {
    const owner = kp(0);
    const to = kp(1).publicKeyHex;
    const feed = new WebSocket(`${h.base.replace('http', 'ws')}/api/v11/ws`);
    const msgs: any[] = [];
    feed.on('message', (m) => msgs.push(JSON.parse(m.toString())));
    await new Promise<void>((res, rej) => {
      feed.once('open', () => res());
      feed.once('error', rej);
    });
    try {
      feed.send(JSON.stringify({ op: 'subscribe', topic: 'blocks', events: true }));
      await waitFor(() => msgs.find((m) => m.type === 'subscribed'), 5000, 'subscribed');
      const c = await client.call({ from: owner, contract: address, method: 'transfer', args: to + hexU64(25n), gasLimit: 1_000_000 });
      const event = { contract: address, topic: Buffer.from('transfer').toString('hex'), data: owner.publicKeyHex + to + hexU64(25n) };
      expect(c.receipt).toMatchObject({ status: 'OK', events: [event], output: '' });
      expect(c.receipt.fee).toBe(feeFor(c.receipt.gasUsed));

      const view = await getJson(`${h.base}/api/v11/transactions/${c.id}`);
      expect(view.body).toMatchObject({
        status: 'committed',
        height: c.height,
        position: c.position,
        contract: { status: 'OK', gasUsed: c.receipt.gasUsed, fee: c.receipt.fee, events: [event] },
      });

      const block = await waitFor(() => msgs.find((m) => m.type === 'block' && m.block.height === c.height), 10_000, 'block message');
      expect(block.events).toEqual([{ txId: c.id, index: c.position, ...event }]);

      const g = await client.getContract(address, [balanceKey(owner.publicKeyHex), balanceKey(to)]);
      expect(g!.storage).toEqual({ [balanceKey(owner.publicKeyHex)]: hexU64(SUPPLY - 25n), [balanceKey(to)]: hexU64(25n) });

      // A watch placed after the commit is answered from the tx view, receipt included.
      feed.send(JSON.stringify({ op: 'watch', ids: [c.id] }));
      const late = await waitFor(() => msgs.find((m) => m.type === 'tx' && m.id === c.id), 5000, 'late watch answer');
      expect(late.contract).toMatchObject({ status: 'OK', events: [event] });
    } finally {
      feed.close();
    }
  });

  test('a read-only call returns its output; an amount moves into the contract balance', async () => {
    const c = await client.call({ from: kp(2), contract: address, method: 'total_supply', amount: 7, gasLimit: 1_000_000 });
    expect(c.receipt).toMatchObject({ status: 'OK', output: hexU64(SUPPLY), events: [] });
    expect((await client.getContract(address))!.balance).toBe(7n);
  });

  test('out of gas: committed with an OUT_OF_GAS receipt, fee charged, nonce used, storage untouched', async () => {
    const owner = kp(0);
    const before = (await client.account(owner.publicKey))!;
    const c = await client.call({ from: owner, contract: address, method: 'transfer', args: kp(3).publicKeyHex + hexU64(1n), gasLimit: 1_000 });
    expect(c.receipt.status).toBe('OUT_OF_GAS');
    expect(c.receipt.gasUsed).toBe(1_000);
    expect(c.receipt.fee).toBe(feeFor(1_000));
    expect(c.receipt.events).toEqual([]);
    const after = (await client.account(owner.publicKey))!;
    expect(after.nonce).toBe(before.nonce + 1);
    expect(before.balance - after.balance).toBe(BigInt(c.receipt.fee));
    const g = await client.getContract(address, [balanceKey(owner.publicKeyHex), balanceKey(kp(3).publicKeyHex)]);
    expect(g!.storage).toEqual({ [balanceKey(owner.publicKeyHex)]: hexU64(SUPPLY - 25n), [balanceKey(kp(3).publicKeyHex)]: null });
    expect((await getJson(`${h.base}/api/v11/transactions/${c.id}`)).body.contract).toMatchObject({ status: 'OUT_OF_GAS', gasUsed: 1_000 });
  });

  test('refused before running: TransactionRejectedError, no receipt, the next one from the sender still goes through', async () => {
    const from = kp(1);
    await expect(client.deploy({ from, code: code(), gasLimit: 0 })).rejects.toMatchObject({ name: 'TransactionRejectedError', rejectCode: 'GAS_LIMIT_INVALID' });
    await expect(client.call({ from, contract: address, method: 'init', gasLimit: 1000 })).rejects.toMatchObject({ rejectCode: 'BAD_METHOD' });
    // A fresh key has no account: UNKNOWN_SENDER, as for a transfer.
    await expect(client.call({ from: Keypair.generate(), contract: address, method: 'total_supply', gasLimit: 1000 })).rejects.toMatchObject({ rejectCode: 'UNKNOWN_SENDER' });
    const t = await client.transfer({ from, to: kp(2).publicKey, amount: 3 });
    // A transfer's view has no receipt.
    expect((await getJson(`${h.base}/api/v11/transactions/${t.id}`)).body).not.toHaveProperty('contract');
  });

  test('contract and transfer transactions of one sender share its nonces', async () => {
    const from = kp(3);
    const start = (await client.account(from.publicKey))!.nonce;
    const [a, b, c] = await Promise.all([
      client.transfer({ from, to: kp(2).publicKey, amount: 1 }),
      client.call({ from, contract: address, method: 'total_supply', gasLimit: 1_000_000 }),
      client.transfer({ from, to: kp(2).publicKey, amount: 1 }),
    ]);
    expect(new Set([a.id, b.id, c.id]).size).toBe(3);
    expect(b.receipt.status).toBe('OK');
    expect((await client.account(from.publicKey))!.nonce).toBe(start + 3);
  });
});
