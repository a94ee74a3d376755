#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { registerStart } from './commands/start.js';
import { registerKeygen } from './commands/keys.js';
import { registerSend } from './commands/send.js';
import { registerContract } from './commands/contract.js';
import { registerQueries } from './commands/query.js';
import { registerBench } from './commands/bench.js';
import { registerCluster } from './commands/cluster.js';
import { registerHost } from './commands/host.js';
import { registerCompose } from './commands/compose.js';
import { registerK8s } from './commands/k8s.js';
import { fail } from './output.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('hotledger')
    .description('hotledger: a BFT payment-ledger engine. Start a node, manage keys, send transfers, query the chain, run benchmarks.')
    .version('0.1.0', '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .showSuggestionAfterError(true)
    .configureOutput({ outputError: (str, write) => write(str) });
  registerStart(program);
  registerKeygen(program);
  registerSend(program);
  registerContract(program);
  registerQueries(program);
  registerBench(program);
  registerCluster(program);
  registerHost(program);
  registerCompose(program);
  registerK8s(program);
  program.addHelpText(
    'after',
    `
Examples:
  hotledger start --devnet                       start a one-node devnet on http://127.0.0.1:9003
  hotledger keygen --out alice.json              create a key file
  hotledger send --key k.json --to <hex> --amount 100
  hotledger contract deploy dist/contracts/token.wasm --key k.json --init-u64 1000000
  hotledger contract call <address> transfer --key k.json --args <to hex> --arg-u64 25
  hotledger contract get <address> --key 62<account hex>
  hotledger account <publicKey>                  balance and nonce
  hotledger block latest                         newest block header
  hotledger status                               info, stats, consensus and health
  hotledger bench http -- --duration 10          HTTP benchmark (uWS hello-world vs /stats vs batches)

The node URL for client commands: --url, else $HOTLEDGER_URL, else http://127.0.0.1:9003.`,
  );
  return program;
}

process.on('unhandledRejection', (e) => fail(e));
process.on('uncaughtException', (e) => fail(e));

try {
  await buildProgram().parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) process.exit(e.exitCode);
  fail(e);
}
