import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { latestBlock, postTxs, tryGetJson } from '../../src/cluster/http.js';
import { ClusterSupervisor, type ExitReport, waitClusterReady } from '../../src/cluster/supervisor.js';
import { planTopology, type Topology, writeTopology } from '../../src/cluster/topology.js';
import { contractAddress } from '../../src/contracts/state.js';
import type { KeyPair } from '../../src/crypto/keys.js';
import type { AccountView, BlockView, ContractView, TxStatusView } from '../../src/node/node-api.js';
import { projectRoot } from '../../src/runtime/module-path.js';
import { contractTxId, signContractTx, type UnsignedCall, type UnsignedContractTx, type UnsignedDeploy } from '../../src/tx/contract-tx.js';
import { devnetKeyPair } from '../../src/workload/generate.js';
import { pollUntil } from '../support/poll.js';

/**
 * The example contracts on `hotledger cluster`: 4 validator processes on loopback deploy and run
 * the AssemblyScript token and escrow, every validator shows the same receipts, contract storage
 * and native balances, and they agree on the block hash and the state root (which covers code,
 * contract records and storage).
 */
const N = 4;
const CHAIN = 4343;
const ACCOUNTS = 8;
const BALANCE = 1_000_000_000;

let dir: string;
let topo: Topology;
let sup: ClusterSupervisor;
const unexpected: ExitReport[] = [];
const keys: KeyPair[] = Array.from({ length: ACCOUNTS }, (_, i) => devnetKeyPair(CHAIN, i));
const nonces = new Array<number>(ACCOUNTS).fill(0);
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const u64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};

const waitFor = <T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined | false>): Promise<T> => pollUntil(what, timeoutMs, probe);

type Committed = Extract<TxStatusView, { status: 'committed' }>;

/** Signs the next transaction of account `from`, posts it to validator `via`, and returns its view on every validator once committed there. */
type TxBody = Omit<UnsignedDeploy, 'chainId' | 'sender' | 'nonce'> | Omit<UnsignedCall, 'chainId' | 'sender' | 'nonce'>;

async function run(from: number, tx: TxBody, via = from % N): Promise<{ views: Committed[]; nonce: number }> {
  const nonce = ++nonces[from]!;
  const bytes = signContractTx({ ...tx, chainId: CHAIN, sender: keys[from]!.publicKey, nonce } as UnsignedContractTx, keys[from]!.seed);
  const ans = await postTxs(sup.url(via), bytes);
  expect(ans, JSON.stringify(ans)).toMatchObject({ status: 202, accepted: 1 });
  const id = contractTxId(bytes).toString('hex');
  const views: Committed[] = [];
  for (let i = 0; i < N; i++) {
    const v = await waitFor(`tx ${id.slice(0, 12)} committed on v${i}`, 20_000, async () => {
      const s = await tryGetJson<TxStatusView>(`${sup.url(i)}/api/v11/transactions/${id}`);
      if (s?.status === 'rejected') throw new Error(`tx rejected on v${i}: ${JSON.stringify(s)}`);
      return s?.status === 'committed' ? s : undefined;
    });
    views.push(v);
  }
  return { views, nonce };
}

async function contractOn(i: number, address: Buffer, storageKeys: Buffer[]): Promise<ContractView | undefined> {
  const q = storageKeys.map((k) => `key=${k.toString('hex')}`).join('&');
  return tryGetJson<ContractView>(`${sup.url(i)}/api/v11/contracts/${address.toString('hex')}${q ? `?${q}` : ''}`);
}

async function agreedTip(): Promise<BlockView> {
  return waitFor('validators to agree on the tip', 15_000, async () => {
    const tips = await Promise.all([0, 1, 2, 3].map((i) => latestBlock(sup.url(i))));
    const t0 = tips[0];
    return t0 && tips.every((t) => t && t.height === t0.height && t.hash === t0.hash && t.stateRoot === t0.stateRoot) ? t0 : undefined;
  });
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hotledger-contracts-cluster-'));
  topo = await planTopology({ validators: N, dir, basePort: 0, chainId: CHAIN, accounts: ACCOUNTS, threads: 1, timeoutMs: 1_000, heartbeatMs: 100 });
  writeTopology(topo, { logLevel: 'info', devnetBalance: BALANCE, extra: { pipeline: { batchTimeoutMs: 5 }, storage: { cacheSizeMb: 16, mapSizeMb: 1024 } } });
  sup = new ClusterSupervisor(topo, { graceMs: 5_000 });
  sup.on('exit', (r) => {
    if (!r.expected) unexpected.push(r);
  });
  await sup.start();
  await waitClusterReady(sup, 30_000);
}, 90_000);

afterAll(async () => {
  await sup?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 30_000);

describe(`contracts on hotledger cluster (${N} validator processes)`, () => {
  const balanceKey = (k: KeyPair) => Buffer.concat([Buffer.from('b'), k.publicKey]);

  it('deploys the token and runs transfers; every validator shows the same receipts and storage', async () => {
    const token = readFileSync(join(projectRoot(), 'dist/contracts/token.wasm'));
    const deploy = await run(0, { kind: 'deploy', code: token, initArgs: u64(1_000), gasLimit: 20_000_000 });
    const address = contractAddress(keys[0]!.publicKey, deploy.nonce);
    for (const v of deploy.views) expect(v.contract).toMatchObject({ status: 'OK', address: address.toString('hex') });
    expect(new Set(deploy.views.map((v) => JSON.stringify(v.contract))).size).toBe(1);

    const t1 = await run(0, { kind: 'call', contract: address, method: 'transfer', args: Buffer.concat([keys[1]!.publicKey, u64(100)]), gasLimit: 1_000_000 }, 2);
    expect(t1.views[0]!.contract?.status).toBe('OK');
    expect(t1.views[0]!.contract?.events).toHaveLength(1);
    const t2 = await run(1, { kind: 'call', contract: address, method: 'transfer', args: Buffer.concat([keys[2]!.publicKey, u64(30)]), gasLimit: 1_000_000 }, 3);
    expect(t2.views[3]!.contract?.status).toBe('OK');
    // Too much: the contract aborts, the call's changes are reverted, the fee is still paid.
    const over = await run(2, { kind: 'call', contract: address, method: 'transfer', args: Buffer.concat([keys[1]!.publicKey, u64(31)]), gasLimit: 1_000_000 });
    for (const v of over.views) expect(v.contract).toMatchObject({ status: 'CONTRACT_ABORT' });
    expect(over.views[0]!.contract!.fee).toBeGreaterThan(0);

    const want = {
      [hex(balanceKey(keys[0]!))]: u64(900).toString('hex'),
      [hex(balanceKey(keys[1]!))]: u64(70).toString('hex'),
      [hex(balanceKey(keys[2]!))]: u64(30).toString('hex'),
    };
    for (let i = 0; i < N; i++) {
      const c = await contractOn(
        i,
        address,
        [0, 1, 2].map((k) => balanceKey(keys[k]!)),
      );
      expect(c?.storage, `v${i}`).toEqual(want);
    }
    await agreedTip();
  }, 120_000);

  it('runs the escrow: deposit, two approvals, the payee is paid natively on every validator', async () => {
    const escrow = readFileSync(join(projectRoot(), 'dist/contracts/escrow.wasm'));
    const [payer, payee, a, b] = [4, 5, 6, 7];
    const payeeBefore = (await tryGetJson<AccountView>(`${sup.url(0)}/api/v11/accounts/${hex(keys[payee]!.publicKey)}`))!.balance;
    const deploy = await run(payer, {
      kind: 'deploy',
      code: escrow,
      initArgs: Buffer.concat([keys[payee]!.publicKey, keys[a]!.publicKey, keys[b]!.publicKey]),
      gasLimit: 20_000_000,
    });
    const address = contractAddress(keys[payer]!.publicKey, deploy.nonce);
    const dep = await run(payer, { kind: 'call', contract: address, method: 'deposit', amount: 5_000, gasLimit: 1_000_000 });
    expect(dep.views[1]!.contract?.status).toBe('OK');
    const mid = await contractOn(2, address, []);
    expect(Number(mid?.balance)).toBe(5_000);
    // Not an approver: aborted, nothing released.
    const stranger = await run(payee, { kind: 'call', contract: address, method: 'approve', gasLimit: 1_000_000 });
    expect(stranger.views[0]!.contract?.status).toBe('CONTRACT_ABORT');
    await run(a, { kind: 'call', contract: address, method: 'approve', gasLimit: 1_000_000 });
    const last = await run(b, { kind: 'call', contract: address, method: 'approve', gasLimit: 1_000_000 });
    expect(last.views[3]!.contract?.status).toBe('OK');
    await agreedTip();
    for (let i = 0; i < N; i++) {
      const c = await contractOn(i, address, []);
      expect(Number(c?.balance), `escrow balance on v${i}`).toBe(0);
      const acct = await tryGetJson<AccountView>(`${sup.url(i)}/api/v11/accounts/${hex(keys[payee]!.publicKey)}`);
      // The payee paid a fee for its refused approve: it gained the deposit minus that fee.
      expect(Number(acct?.balance), `payee on v${i}`).toBe(Number(payeeBefore) + 5_000 - stranger.views[0]!.contract!.fee);
    }
    expect(unexpected).toEqual([]);
  }, 120_000);
});
