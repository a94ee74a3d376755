import { intOption } from '../options.js';
import { nextNonce, submitOne, waitCommitted } from '../tx-steps.js';
import type { Command } from 'commander';
import { Keypair } from '../../client/index.js';
import { HotledgerError } from '../../errors.js';
import { MAX_AMOUNT } from '../../tx/layout.js';
import { withNode } from '../client.js';
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
  const amount = intOption('--amount', o.amount, 1, MAX_AMOUNT);
  const timeoutSec = intOption('--timeout', o.timeout, 1, MAX_AMOUNT);
  const explicitNonce = o.nonce !== undefined ? intOption('--nonce', o.nonce, 1, MAX_AMOUNT) : undefined;
  const from = Keypair.readFile(o.key);
  await withNode(
    o.url,
    async (client) => {
      const nonce = await nextNonce(client, from, explicitNonce);
      const tx = await client.sign({ from, to: o.to, amount, nonce, ...(o.reference !== undefined && { reference: o.reference }) });
      const answer = await submitOne(client, tx, 'transfer', nonce);
      print(`submitted ${tx.id} (from ${from.publicKeyHex}, nonce ${nonce}, amount ${amount})`);
      if (o.wait) await waitCommitted(client, tx.id, answer.endpoint, timeoutSec);
    },
    // The commit is watched on the node's WebSocket; polling (every 100 ms) only when that fails.
    { durableTimeoutMs: timeoutSec * 1000, pollIntervalMs: 100 },
  );
}
