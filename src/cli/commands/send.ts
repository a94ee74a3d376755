import type { Command } from 'commander';
import { readKeyFile } from '../../crypto/keys.js';
import { HotledgerError } from '../../errors.js';
import type { AccountView, NodeInfo, TxStatusView } from '../../node/node-api.js';
import { MAX_AMOUNT } from '../../tx/layout.js';
import { signTransfer } from '../../tx/sign.js';
import { transferToJson } from '../../api/tx-json.js';
import { ApiClient, ApiResponseError, nodeUrl } from '../client.js';
import { print, run } from '../output.js';

interface SendOptions {
  key: string;
  to: string;
  amount: string;
  nonce?: string;
  reference?: string;
  url?: string;
  wait: boolean;
  timeout: string;
}

type SubmitAnswer = { accepted: number; rejected: number; results: Array<{ index: number; id?: string; code?: string; message?: string }> };

function positiveInt(v: string, name: string, min: number): number {
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v)) || Number(v) < min || Number(v) > MAX_AMOUNT) {
    throw new HotledgerError('BAD_REQUEST', `--${name} must be an integer from ${min} to ${MAX_AMOUNT} (got ${JSON.stringify(v)})`);
  }
  return Number(v);
}

export function registerSend(program: Command): void {
  program
    .command('send')
    .description('sign a transfer with a key file, submit it and wait until it is committed or rejected')
    .requiredOption('--key <file>', 'key file of the sender (from `hotledger keygen --out`)')
    .requiredOption('--to <publicKey>', 'recipient public key, 64 hex digits')
    .requiredOption('--amount <n>', 'amount, a positive integer')
    .option('--nonce <n>', "nonce; default: the sender's committed nonce + 1")
    .option('--reference <hex>', 'payment reference, 32 hex digits (16 bytes)')
    .option('--url <url>', 'node API URL (default $HOTLEDGER_URL or http://127.0.0.1:9003)')
    .option('--no-wait', 'return after admission, do not wait for the commit')
    .option('--timeout <seconds>', 'how long to wait for the commit', '30')
    .action((o: SendOptions) => run(() => send(o)));
}

async function send(o: SendOptions): Promise<void> {
  if (!/^[0-9a-fA-F]{64}$/.test(o.to)) throw new HotledgerError('BAD_REQUEST', `--to must be a public key of 64 hex digits (got ${JSON.stringify(o.to)})`);
  if (o.reference !== undefined && !/^[0-9a-fA-F]{32}$/.test(o.reference)) throw new HotledgerError('BAD_REQUEST', '--reference must be 32 hex digits (16 bytes)');
  const amount = positiveInt(o.amount, 'amount', 1);
  const timeoutSec = positiveInt(o.timeout, 'timeout', 1);
  const kp = readKeyFile(o.key);
  const from = Buffer.from(kp.publicKey).toString('hex');
  const client = new ApiClient(nodeUrl(o.url));
  const info = await client.get<NodeInfo>('/api/v11/info');
  let nonce: number;
  if (o.nonce !== undefined) nonce = positiveInt(o.nonce, 'nonce', 1);
  else {
    try {
      nonce = (await client.get<AccountView>(`/api/v11/accounts/${from}`)).nonce + 1;
    } catch (e) {
      if (e instanceof ApiResponseError && e.status === 404) throw new HotledgerError('BAD_REQUEST', `sender account ${from} does not exist on this chain (fund it first)`);
      throw e;
    }
  }
  const tx = signTransfer(
    { chainId: info.chainId, sender: kp.publicKey, recipient: Buffer.from(o.to, 'hex'), amount, nonce, reference: o.reference ? Buffer.from(o.reference, 'hex') : undefined },
    kp.seed,
  );
  let answer: SubmitAnswer;
  try {
    answer = await client.post<SubmitAnswer>('/api/v11/transactions', JSON.stringify(transferToJson(tx)), 'application/json');
  } catch (e) {
    const r = e instanceof ApiResponseError ? (e.details?.results as SubmitAnswer['results'] | undefined)?.[0] : undefined;
    if (r?.code) throw new HotledgerError('INVALID_TRANSACTION', `the node rejected the transfer: ${r.message ?? r.code} (${r.code}; nonce ${nonce})`);
    throw e;
  }
  const id = answer.results[0]?.id;
  if (!id) throw new HotledgerError('INTERNAL', 'the node accepted the transfer but returned no id');
  print(`submitted ${id} (from ${from}, nonce ${nonce}, amount ${amount})`);
  if (!o.wait) return;
  const deadline = Date.now() + timeoutSec * 1000;
  for (;;) {
    const s = await client.get<TxStatusView & { message?: string }>(`/api/v11/transactions/${id}`);
    if (s.status === 'committed') {
      print(`committed in block ${s.height} at position ${s.position}`);
      return;
    }
    if (s.status === 'rejected') {
      throw new HotledgerError('INVALID_TRANSACTION', `transaction ${id} was rejected${s.height !== undefined ? ` in block ${s.height}` : ''}: ${s.message ?? s.code} (${s.code})`);
    }
    if (Date.now() > deadline) throw new HotledgerError('NOT_READY', `transaction ${id} still pending after ${timeoutSec} s; check later with \`hotledger tx ${id}\``);
    await new Promise((r) => setTimeout(r, 100));
  }
}
