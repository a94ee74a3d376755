import type { Command } from 'commander';
import { HotledgerError } from '../../errors.js';
import { ApiClient, nodeUrl } from '../client.js';
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
        print(await new ApiClient(nodeUrl(o.url)).get(`/api/v11/accounts/${pk.toLowerCase()}`));
      }),
    );

  program
    .command('block')
    .description('show a block header by height, or the latest one')
    .argument('[height]', 'block height or "latest"', 'latest')
    .option('--url <url>', 'node API URL')
    .action((height: string, o: { url?: string }) =>
      run(async () => {
        if (height !== 'latest' && !/^\d+$/.test(height))
          throw new HotledgerError('BAD_REQUEST', `height must be a non-negative integer or "latest" (got ${JSON.stringify(height)})`);
        print(await new ApiClient(nodeUrl(o.url)).get(`/api/v11/blocks/${height}`));
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
        print(await new ApiClient(nodeUrl(o.url)).get(`/api/v11/transactions/${id.toLowerCase()}`));
      }),
    );

  program
    .command('status')
    .description('show node info, stats, consensus status and health')
    .option('--url <url>', 'node API URL')
    .action((o: { url?: string }) =>
      run(async () => {
        const c = new ApiClient(nodeUrl(o.url));
        const [info, stats, consensus] = await Promise.all([c.get('/api/v11/info'), c.get('/api/v11/stats'), c.get('/api/v11/consensus/status')]);
        let health: unknown;
        try {
          health = await c.get('/q/health');
        } catch (e) {
          health = { status: 'DOWN', error: (e as Error).message };
        }
        print({ url: c.base, info, stats, consensus, health });
      }),
    );
}
