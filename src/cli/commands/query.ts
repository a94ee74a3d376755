import type { Command } from 'commander';
import { HotledgerError } from '../../errors.js';
import { cliError, notFound, withNode } from '../client.js';
import { print, run } from '../output.js';

const HEX64 = /^[0-9a-fA-F]{64}$/;

export function registerQueries(program: Command): void {
  program
    .command('account')
    .description('show an account: balance (decimal string) and committed nonce')
    .argument('<publicKey>', 'account public key, 64 hex digits')
    .option('--url <url>', 'node API URL (default $HOTLEDGER_URL or http://127.0.0.1:9003)')
    .action((pk: string, o: { url?: string }) =>
      run(async () => {
        if (!HEX64.test(pk)) throw new HotledgerError('BAD_REQUEST', `public key must be 64 hex digits (got ${JSON.stringify(pk)})`);
        const key = pk.toLowerCase();
        const a = await withNode(o.url, (c) => c.account(key));
        if (!a) throw notFound(`account ${key} does not exist`);
        print({ ...a, balance: a.balance.toString() });
      }),
    );

  program
    .command('block')
    .description('show a block header by height, or the latest one')
    .argument('[height]', 'block height or "latest"', 'latest')
    .option('--url <url>', 'node API URL')
    .action((height: string, o: { url?: string }) =>
      run(async () => {
        if (height !== 'latest' && (!/^\d+$/.test(height) || !Number.isSafeInteger(Number(height))))
          throw new HotledgerError('BAD_REQUEST', `height must be a non-negative integer or "latest" (got ${JSON.stringify(height)})`);
        const b = await withNode(o.url, (c) => c.block(height === 'latest' ? 'latest' : Number(height)));
        if (!b) throw notFound(height === 'latest' ? 'no block has been committed yet' : `no block at height ${Number(height)}`);
        print(b);
      }),
    );

  program
    .command('tx')
    .description('show the status of a transaction: pending, committed (height, position) or rejected (code)')
    .argument('<id>', 'transaction id, 64 hex digits')
    .option('--url <url>', 'node API URL')
    .action((id: string, o: { url?: string }) =>
      run(async () => {
        if (!HEX64.test(id)) throw new HotledgerError('BAD_REQUEST', `transaction id must be 64 hex digits (got ${JSON.stringify(id)})`);
        const tx = await withNode(o.url, (c) => c.transaction(id.toLowerCase()));
        if (!tx) throw notFound(`transaction ${id.toLowerCase()} is not known to this node`);
        print(tx);
      }),
    );

  program
    .command('status')
    .description('show node info, stats, consensus status and health')
    .option('--url <url>', 'node API URL')
    .action((o: { url?: string }) =>
      run(async () => {
        print(
          await withNode(o.url, async (c, url) => {
            const [info, stats, consensus] = await Promise.all([c.info(), c.stats(), c.consensusStatus()]);
            let health: unknown;
            try {
              health = await c.health();
            } catch (e) {
              health = { status: 'DOWN', error: (cliError(e, url) as Error).message };
            }
            return { url, info, stats, consensus, health };
          }),
        );
      }),
    );
}
