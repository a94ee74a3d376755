import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { postTxs, tryGetJson } from '../../src/cluster/http.js';
import { contractAddress } from '../../src/contracts/state.js';
import type { BlockView, ContractView, TxStatusView } from '../../src/node/node-api.js';
import { compiledPath, projectRoot } from '../../src/runtime/module-path.js';
import { signContractTx } from '../../src/tx/contract-tx.js';
import { txId } from '../../src/tx/codec.js';
import { devnetKeyPair, generateTransfers } from '../../src/workload/generate.js';
import { tempDir } from '../support/fixtures.js';
import { alive, killAll } from '../support/processes.js';
import { pollUntil } from '../support/poll.js';

/**
 * `hotledger cluster --validators 4 --per-process 2`, the real CLI (dist/ must be built): two
 * `hotledger host` processes of two validators each form one chain, and a SIGKILLed supervisor
 * takes both host processes with it.
 */
const CHAIN = 5151;
const dir = tempDir('hotledger-hosted-cluster-');
let cluster: ChildProcess | undefined;
const pids: number[] = [];
let out = '';
let err = '';

afterAll(() => {
  cluster?.kill('SIGKILL');
  killAll(pids);
  dir.remove();
});

const waitFor = <T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined | false> | T | undefined | false): Promise<T> =>
  pollUntil(what, timeoutMs, probe, { intervalMs: 100, context: () => `stdout:\n${out}\nstderr ends:\n${err.slice(-1500)}` });

describe('hotledger cluster --per-process 2', () => {
  it('runs 4 validators in 2 host processes that commit one chain (a transfer, and the token deployed with one storage on all four), and a SIGKILLed supervisor leaves no child alive', async () => {
    const cli = compiledPath('../../src/cli/main.ts', import.meta.url);
    const args = [
      'cluster',
      '--validators',
      '4',
      '--per-process',
      '2',
      '--base-port',
      '0',
      '--dir',
      dir.path,
      '--accounts',
      '2',
      '--chain-id',
      String(CHAIN),
      '--fresh',
      '--log-level',
      'warn',
    ];
    cluster = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, HOTLEDGER_PROFILE: '' } });
    cluster.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    cluster.stderr!.on('data', (b: Buffer) => (err += b.toString()));

    await waitFor('every node ready', 30_000, () => {
      if (cluster!.exitCode !== null) throw new Error(`hotledger cluster exited with ${cluster!.exitCode}: ${err.slice(-1500)}`);
      return /^ready\s+every node answers/m.test(out);
    });
    // The node table: id, role, process, API; then one line per process with its pid.
    const urls = new Map([...out.matchAll(/^(v\d)\s+validator\s+(pv\d)\s+(http:\/\/\S+)\/api\/v11/gm)].map((m) => [m[1]!, { process: m[2]!, url: m[3]! }]));
    expect([...urls.keys()]).toEqual(['v0', 'v1', 'v2', 'v3']);
    expect([...urls.values()].map((u) => u.process)).toEqual(['pv0', 'pv0', 'pv1', 'pv1']);
    const processes = [...out.matchAll(/^process (pv\d)\s+pid (\d+) nodes (\S+)\s+hotledger host --config (\S+)/gm)];
    expect(processes.map((m) => `${m[1]}:${m[3]}`)).toEqual(['pv0:v0,v1', 'pv1:v2,v3']);
    expect(processes.every((m) => existsSync(m[4]!))).toBe(true);
    expect(existsSync(join(dir.path, 'pv0', 'host.log'))).toBe(true);
    pids.push(...processes.map((m) => Number(m[2])));
    expect(new Set(pids).size).toBe(2);
    expect(pids.every(alive)).toBe(true);

    // One transfer, sent to v1 (in pv0), committed on all four, at one block hash.
    const txs = generateTransfers({ chainId: CHAIN, senders: [devnetKeyPair(CHAIN, 0)], recipients: [devnetKeyPair(CHAIN, 1).publicKey], count: 1 });
    const id = txId(txs, 0).toString('hex');
    expect(await postTxs(urls.get('v1')!.url, txs)).toMatchObject({ status: 202, accepted: 1 });
    const heights = await Promise.all(
      [...urls.values()].map(({ url }) =>
        waitFor(`the transfer committed at ${url}`, 15_000, async () => {
          const s = await tryGetJson<TxStatusView>(`${url}/api/v11/transactions/${id}`);
          return s?.status === 'committed' ? s.height : undefined;
        }),
      ),
    );
    expect(new Set(heights).size).toBe(1);
    const blocks = await Promise.all([...urls.values()].map(({ url }) => tryGetJson<BlockView>(`${url}/api/v11/blocks/${heights[0]}`)));
    expect(blocks.every((b) => b !== undefined && b.hash === blocks[0]!.hash && b.txCount >= 1)).toBe(true);

    // The example token deployed through v2 (in pv1): co-hosted nodes share a ledger thread, and
    // each runs its own contract lane there; all four show the same contract, storage and root.
    const deployer = devnetKeyPair(CHAIN, 1);
    const deploy = signContractTx(
      {
        kind: 'deploy',
        chainId: CHAIN,
        sender: deployer.publicKey,
        nonce: 1,
        gasLimit: 5_000_000,
        code: readFileSync(join(projectRoot(), 'dist/contracts/token.wasm')),
        initArgs: Buffer.from([9, 0, 0, 0, 0, 0, 0, 0]),
      },
      deployer.seed,
    );
    expect(await postTxs(urls.get('v2')!.url, deploy)).toMatchObject({ status: 202, accepted: 1 });
    const address = contractAddress(deployer.publicKey, 1).toString('hex');
    const key = `62${Buffer.from(deployer.publicKey).toString('hex')}`;
    const views = await Promise.all(
      [...urls.values()].map(({ url }) =>
        waitFor(`the token deployed at ${url}`, 15_000, async () => {
          const c = await tryGetJson<ContractView>(`${url}/api/v11/contracts/${address}?key=${key}`);
          return c?.storage[key] ? c : undefined;
        }),
      ),
    );
    expect(views.map((c) => c.storage[key])).toEqual(Array(4).fill('0900000000000000'));
    expect(new Set(views.map((c) => c.codeHash)).size).toBe(1);

    cluster.kill('SIGKILL');
    await waitFor('both host processes gone after the supervisor was SIGKILLed', 20_000, () => !pids.some(alive));
    expect(pids.filter(alive)).toEqual([]);
  }, 45_000);
});
