import { intOption } from '../options.js';
import { nextNonce, submitOne, waitCommitted } from '../tx-steps.js';
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { type ContractReceipt, type HotledgerClient, Keypair, type SignedTransaction, signCallTx, signDeployTx, u64Arg } from '../../client/index.js';
import { MAX_TX_GAS } from '../../contracts/limits.js';
import { HotledgerError } from '../../errors.js';
import { MAX_AMOUNT } from '../../tx/layout.js';
import { ApiResponseError, withNode } from '../client.js';
import { print, run } from '../output.js';

const HEX64 = /^[0-9a-fA-F]{64}$/;
const HEX = /^(?:[0-9a-fA-F]{2})*$/;
const URL_HELP = 'node API URL (default $HOTLEDGER_URL or http://127.0.0.1:9003)';

interface TxOptions {
  key: string;
  gas: string;
  nonce?: string;
  url?: string;
  wait: boolean;
  timeout: string;
}
interface DeployOptions extends TxOptions {
  init?: string;
  initU64?: string[];
}
interface CallOptions extends TxOptions {
  args?: string;
  argU64?: string[];
  amount: string;
}

/** `--init <hex>` / `--args <hex>` then each `--*-u64 <n>` as 8 little-endian bytes, the encoding of the example contracts. */
function argumentHex(hex: string | undefined, u64s: string[] | undefined, name: string): string {
  if (hex !== undefined && !HEX.test(hex)) throw new HotledgerError('BAD_REQUEST', `--${name} must be hex, an even number of hex digits (got ${JSON.stringify(hex.slice(0, 80))})`);
  const tail = (u64s ?? []).map((v) => {
    if (!/^\d{1,20}$/.test(v) || BigInt(v) >= 1n << 64n) throw new HotledgerError('BAD_REQUEST', `--${name}-u64 must be an integer from 0 to 2^64 - 1 (got ${JSON.stringify(v)})`);
    return u64Arg(BigInt(v));
  });
  return (hex ?? '') + tail.join('');
}

const collect = (v: string, prev: string[] | undefined): string[] => [...(prev ?? []), v];

function txOptions(c: Command, defaultGas: number): Command {
  return c
    .requiredOption('--key <file>', 'key file of the sender (from `hotledger keygen --out`)')
    .option('--gas <n>', `gas limit; the sender must hold its fee, ceil(gas / 1000), up front`, String(defaultGas))
    .option('--nonce <n>', "nonce; default: the sender's committed nonce + 1 (shared with its transfers)")
    .option('--url <url>', URL_HELP)
    .option('--no-wait', 'return after admission, do not wait for the commit')
    .option('--timeout <seconds>', 'how long to wait for the commit', '30');
}

export function registerContract(program: Command): void {
  const contract = program.command('contract').description('deploy a WebAssembly contract, call one, or read its record and storage');

  txOptions(
    contract
      .command('deploy')
      .description('deploy a contract module, wait for the block and print the receipt (status, gas used, fee, events, address)')
      .argument('<file.wasm>', 'the WebAssembly module (e.g. dist/contracts/token.wasm)')
      .option('--init <hex>', "arguments of the contract's init, hex")
      .option('--init-u64 <n>', 'append a u64 (8 bytes little-endian) to the init arguments; repeatable', collect),
    5_000_000,
  ).action((file: string, o: DeployOptions) =>
    run(async () => {
      let code: Buffer;
      try {
        code = readFileSync(file);
      } catch (e) {
        throw new HotledgerError('BAD_REQUEST', `cannot read contract module ${file}: ${(e as Error).message}`);
      }
      const initArgs = argumentHex(o.init, o.initU64, 'init');
      await submitAndReport(o, 'deploy', (chainId, from, nonce, gasLimit) => signDeployTx({ chainId, from, nonce, gasLimit, code, initArgs }));
    }),
  );

  txOptions(
    contract
      .command('call')
      .description('call a contract method, wait for the block and print the receipt (status, gas used, fee, events, output)')
      .argument('<address>', 'contract address, 64 hex digits')
      .argument('<method>', 'exported method name')
      .option('--args <hex>', 'argument bytes, hex')
      .option('--arg-u64 <n>', 'append a u64 (8 bytes little-endian) to the arguments; repeatable', collect)
      .option('--amount <n>', "native amount moved to the contract's balance with the call", '0'),
    1_000_000,
  ).action((address: string, method: string, o: CallOptions) =>
    run(async () => {
      if (!HEX64.test(address)) throw new HotledgerError('BAD_REQUEST', `contract address must be 64 hex digits (got ${JSON.stringify(address)})`);
      const amount = intOption('--amount', o.amount, 0, MAX_AMOUNT);
      const args = argumentHex(o.args, o.argU64, 'args');
      await submitAndReport(o, `call ${method}`, (chainId, from, nonce, gasLimit) =>
        signCallTx({ chainId, from, nonce, gasLimit, contract: address.toLowerCase(), method, args, amount }),
      );
    }),
  );

  contract
    .command('get')
    .description('show a contract: code hash, deployer, balance (decimal string), code size, and the storage values of the keys asked for')
    .argument('<address>', 'contract address, 64 hex digits')
    .option('--key <hex>', 'storage key to read, hex; repeatable', collect)
    .option('--url <url>', URL_HELP)
    .action((address: string, o: { key?: string[]; url?: string }) =>
      run(async () => {
        if (!HEX64.test(address)) throw new HotledgerError('BAD_REQUEST', `contract address must be 64 hex digits (got ${JSON.stringify(address)})`);
        for (const k of o.key ?? [])
          if (!HEX.test(k)) throw new HotledgerError('BAD_REQUEST', `--key must be hex, an even number of hex digits (got ${JSON.stringify(k.slice(0, 80))})`);
        const a = address.toLowerCase();
        const c = await withNode(o.url, (client) =>
          client.getContract(
            a,
            (o.key ?? []).map((k) => k.toLowerCase()),
          ),
        );
        if (!c) throw new ApiResponseError(404, 'CONTRACT_NOT_FOUND', `no contract at ${a}`);
        print({ ...c, balance: c.balance.toString() });
      }),
    );
}

type Build = (chainId: number, from: Keypair, nonce: number, gasLimit: number) => SignedTransaction & { address?: string };

/** Like `send`: sign once, submit, print the id, wait for the block, print the receipt. A reverted call exits 1 after its receipt. */
async function submitAndReport(o: TxOptions, what: string, build: Build): Promise<void> {
  const gasLimit = intOption('--gas', o.gas, 1, MAX_TX_GAS);
  const timeoutSec = intOption('--timeout', o.timeout, 1, MAX_AMOUNT);
  const explicitNonce = o.nonce !== undefined ? intOption('--nonce', o.nonce, 1, MAX_AMOUNT) : undefined;
  const from = Keypair.readFile(o.key);
  await withNode(
    o.url,
    async (client) => {
      const nonce = await nextNonce(client, from, explicitNonce);
      const tx = build(await client.getChainId(), from, nonce, gasLimit);
      const answer = await submitOne(client, tx, what, nonce);
      print(`submitted ${tx.id} (${what} from ${from.publicKeyHex}, nonce ${nonce}, gas limit ${gasLimit}${tx.address ? `, contract address ${tx.address}` : ''})`);
      if (!o.wait) return;
      const receipt = await waitReceipt(client, tx.id, answer.endpoint, timeoutSec);
      print(receiptReport(receipt));
      if (receipt.status !== 'OK')
        throw new HotledgerError(
          'INVALID_TRANSACTION',
          `the ${what} reverted: ${receipt.status}${receipt.message ? ` (${receipt.message})` : ''}; its fee ${receipt.fee} was charged`,
        );
    },
    { durableTimeoutMs: timeoutSec * 1000, pollIntervalMs: 100 },
  );
}

async function waitReceipt(client: HotledgerClient, id: string, endpoint: string, timeoutSec: number): Promise<ContractReceipt> {
  const s = await waitCommitted(client, id, endpoint, timeoutSec);
  if (s.contract) return s.contract;
  const t = await client.transaction(id, { endpoint });
  if (t?.status === 'committed' && t.contract) return t.contract;
  throw new HotledgerError('INTERNAL', `transaction ${id} is committed but the node reports no contract receipt for it`);
}

/** The receipt as JSON, each event's topic also as text when it is printable (the examples use names such as "transfer"). */
function receiptReport(r: ContractReceipt): Record<string, unknown> {
  return {
    ...r,
    events: r.events.map((e) => {
      const text = Buffer.from(e.topic, 'hex').toString('latin1');
      return /^[\x20-\x7e]+$/.test(text) ? { ...e, topicText: text } : e;
    }),
  };
}
