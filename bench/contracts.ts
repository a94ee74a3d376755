import { readFileSync, rmSync, mkdtempSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Command } from 'commander';
import { positiveInt } from './args.js';
import { contractAddress } from '../src/contracts/state.js';
import { loadConfig } from '../src/config/load.js';
import type { KeyPair } from '../src/crypto/keys.js';
import { type RunningNode, startNode } from '../src/node/node.js';
import { projectRoot } from '../src/runtime/module-path.js';
import { contractTxId, signContractTx } from '../src/tx/contract-tx.js';
import { TX_SIZE } from '../src/tx/layout.js';
import { measureVerifyCeiling } from './ceiling.js';
import { progress } from './progress.js';
import { loadWorkload } from './workload-cache.js';

const CHAIN_ID = 7;

const program = new Command()
  .name('npm run bench:contracts --')
  .description(
    'Token transfers through the AssemblyScript token contract (deploy, distribute, then every account calls transfer) beside native transfers on the same node and the same-run libsodium verify ceiling',
  )
  .option('--calls <n>', 'token transfer calls in the measured run (and native transfers in the comparison run)', positiveInt('--calls', 1_000_000), 20_000)
  .option('--accounts <n>', 'funded accounts that send (round-robin, so nonces are consecutive)', positiveInt('--accounts', 10_000), 200)
  .option('--threads <n>', 'pipeline.threads (verify pool) and execution shards', positiveInt('--threads', 64), availableParallelism())
  .option('--json <file>', 'also write the results as JSON')
  .parse();
const opts = program.opts<{ calls: number; accounts: number; threads: number; json?: string }>();

/** Submits framed chunks of `counts[i]` transactions and resolves when all of them are in blocks. */
async function drive(node: RunningNode, label: string, chunks: Buffer[], counts: number[]): Promise<{ seconds: number; committed: number; rejected: number }> {
  const total = counts.reduce((s, c) => s + c, 0);
  let committed = 0;
  let rejected = 0;
  const bar = progress(label, total);
  const done = new Promise<void>((resolve) => {
    const off = node.onBlock((e) => {
      committed += e.block.committed;
      rejected += e.block.rejected;
      bar.update(committed + rejected);
      if (committed + rejected >= total) {
        off();
        resolve();
      }
    });
  });
  const t0 = performance.now();
  for (let i = 0; i < chunks.length; i++) {
    const refused = (await node.submit(chunks[i]!)).filter((x) => !x.ok);
    // The workload is valid and the bench profile's mempool holds all of it: any refusal is a bug.
    if (refused.length > 0) throw new Error(`${label}: ${refused.length} of chunk ${i} refused (${[...new Set(refused.map((x) => (x.ok ? '' : x.code)))].join(', ')})`);
  }
  await done;
  bar.stop();
  return { seconds: (performance.now() - t0) / 1000, committed, rejected };
}

const u64 = (n: number) => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt(n));
  return b;
};

async function main(): Promise<void> {
  const { calls, accounts, threads } = opts;
  const per = Math.ceil(calls / accounts);
  const native = loadWorkload(CHAIN_ID, accounts, calls);
  const keys: KeyPair[] = native.accounts;
  const token = readFileSync(join(projectRoot(), 'dist/contracts/token.wasm'));
  console.log(`bench:contracts — ${calls.toLocaleString('en-US')} calls, ${accounts} accounts, ${threads} thread(s)`);
  const ceiling = await measureVerifyCeiling(native.txs, native.count, threads);

  const dir = mkdtempSync(join(tmpdir(), 'hotledger-bench-contracts-'));
  const cfg = loadConfig({
    profile: 'bench',
    overrides: { node: { dataDir: dir }, pipeline: { threads, executionShards: threads }, chain: { chainId: CHAIN_ID, genesis: { devnetAccounts: accounts } } },
  });
  const node = await startNode(cfg);
  try {
    // 1. Native transfers: the same node, the same accounts, the same count.
    const nativeChunks: Buffer[] = [];
    const nativeCounts: number[] = [];
    for (let i = 0; i < native.count; i += 2_000) {
      const n = Math.min(2_000, native.count - i);
      nativeChunks.push(native.txs.subarray(i * TX_SIZE, (i + n) * TX_SIZE));
      nativeCounts.push(n);
    }
    const nat = await drive(node, 'native transfers', nativeChunks, nativeCounts);
    const nonce = keys.map((k) => node.getAccount(Buffer.from(k.publicKey))?.nonce ?? 0);

    // 2. Deploy the token (account 0 holds the supply), measure one transfer's gas, distribute.
    const supply = accounts * per * 10;
    const deployer = keys[0]!;
    const deployNonce = ++nonce[0]!;
    const deploy = signContractTx(
      { kind: 'deploy', chainId: CHAIN_ID, sender: deployer.publicKey, nonce: deployNonce, gasLimit: 20_000_000, code: token, initArgs: u64(supply) },
      deployer.seed,
    );
    await drive(node, 'deploy', [deploy], [1]);
    const address = contractAddress(deployer.publicKey, deployNonce);
    const deployed = node.getContract(address, []);
    if (!deployed) throw new Error('token deploy did not create a contract (see the receipt)');
    const transferArgs = (to: Uint8Array, amount: number) => Buffer.concat([to, u64(amount)]);
    // Two probe calls in one submission, so one block: the first pays for the cold code, the second is warm.
    const probes = [1, 2].map((k) =>
      signContractTx(
        {
          kind: 'call',
          chainId: CHAIN_ID,
          sender: deployer.publicKey,
          nonce: ++nonce[0]!,
          gasLimit: 5_000_000,
          contract: address,
          method: 'transfer',
          args: transferArgs(keys[k]!.publicKey, per * 5),
        },
        deployer.seed,
      ),
    );
    await drive(node, 'probe calls', [Buffer.concat(probes)], [2]);
    const [cold, warm] = probes.map((p) => {
      const v = node.getTransaction(contractTxId(p));
      if (v?.status !== 'committed' || v.contract?.status !== 'OK') throw new Error(`probe call failed: ${JSON.stringify(v)}`);
      return { gas: v.contract.gasUsed, height: v.height };
    }) as [{ gas: number; height: number }, { gas: number; height: number }];
    if (cold.height !== warm.height) throw new Error('the two probe calls landed in different blocks');
    const gasUsed = warm.gas;
    // The first call of each block pays for the cold code: every call's limit must cover that, twice over.
    const gasLimit = cold.gas * 2;
    const dist: Buffer[] = [];
    for (let i = 2; i < accounts; i++) {
      dist.push(
        signContractTx(
          {
            kind: 'call',
            chainId: CHAIN_ID,
            sender: deployer.publicKey,
            nonce: ++nonce[0]!,
            gasLimit,
            contract: address,
            method: 'transfer',
            args: transferArgs(keys[i]!.publicKey, per * 5),
          },
          deployer.seed,
        ),
      );
    }
    if (dist.length > 0) await drive(node, 'distribute', [Buffer.concat(dist)], [dist.length]);

    // 3. Every account sends `per` token transfers to its neighbour, round-robin (signed off the clock).
    const bar = progress('signing calls', per * accounts);
    const signed: Buffer[] = [];
    for (let r = 0; r < per; r++) {
      for (let i = 0; i < accounts; i++) {
        const from = keys[i]!;
        const to = keys[(i + 1) % accounts]!;
        signed.push(
          signContractTx(
            { kind: 'call', chainId: CHAIN_ID, sender: from.publicKey, nonce: ++nonce[i]!, gasLimit, contract: address, method: 'transfer', args: transferArgs(to.publicKey, 1) },
            from.seed,
          ),
        );
      }
      bar.update(signed.length);
    }
    bar.stop();
    const chunks: Buffer[] = [];
    const counts: number[] = [];
    for (let i = 0; i < signed.length; i += 2_000) {
      const part = signed.slice(i, i + 2_000);
      chunks.push(Buffer.concat(part));
      counts.push(part.length);
    }
    const tok = await drive(node, 'token transfers', chunks, counts);

    // Correctness, not only speed: every call succeeded, and the token's supply is where it was.
    let reverted = 0;
    for (let i = 0; i < signed.length; i += Math.max(1, Math.floor(signed.length / 500))) {
      const v = node.getTransaction(contractTxId(signed[i]!));
      if (v?.status !== 'committed' || v.contract?.status !== 'OK') reverted++;
    }
    const balanceKey = (pk: Uint8Array) => Buffer.concat([Buffer.from('b'), pk]);
    const view = node.getContract(
      address,
      keys.map((k) => balanceKey(k.publicKey)),
    );
    const held = Object.values(view?.storage ?? {}).reduce((s, v) => s + (v ? Number(Buffer.from(v, 'hex').readBigUInt64LE()) : 0), 0);

    const nativeTps = nat.committed / nat.seconds;
    const tokenTps = tok.committed / tok.seconds;
    const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
    console.log('');
    console.log('| run | committed | rejected | seconds | tx/s | / verify ceiling |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
    console.log(`| native transfers | ${fmt(nat.committed)} | ${fmt(nat.rejected)} | ${nat.seconds.toFixed(2)} | ${fmt(nativeTps)} | ${(nativeTps / ceiling).toFixed(3)} |`);
    console.log(
      `| token transfers (contract calls) | ${fmt(tok.committed)} | ${fmt(tok.rejected)} | ${tok.seconds.toFixed(2)} | ${fmt(tokenTps)} | ${(tokenTps / ceiling).toFixed(3)} |`,
    );
    console.log('');
    console.log(`verify ceiling (libsodium, ${threads} thread(s), same run): ${fmt(ceiling)} verifies/s`);
    console.log(
      `token transfer / native transfer: ${(tokenTps / nativeTps).toFixed(3)}; gas per token transfer: ${gasUsed}, ${cold.gas} for the first of a block (cold code; limit ${gasLimit})`,
    );
    console.log(`checks: ${reverted} of the sampled calls reverted (must be 0); token supply held by the accounts ${fmt(held)} of ${fmt(supply)} (must be equal)`);
    if (opts.json)
      writeFileSync(
        opts.json,
        JSON.stringify(
          {
            calls,
            accounts,
            threads,
            ceiling,
            native: { ...nat, tps: nativeTps },
            token: { ...tok, tps: tokenTps },
            gasUsed,
            coldGasUsed: cold.gas,
            gasLimit,
            reverted,
            held,
            supply,
          },
          null,
          2,
        ),
      );
    if (reverted > 0 || held !== supply) process.exitCode = 1;
  } finally {
    await node.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
