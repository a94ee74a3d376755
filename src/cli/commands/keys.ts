import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { generateKeyPair, writeKeyFile } from '../../crypto/keys.js';
import { HotledgerError } from '../../errors.js';
import { print, run } from '../output.js';

export function registerKeygen(program: Command): void {
  program
    .command('keygen')
    .description('create an Ed25519 key pair; with --out, write a key file (mode 0600), else print it')
    .option('--out <file>', 'key file to write: JSON { "publicKey": hex, "secretKey": hex }')
    .option('--force', 'overwrite an existing key file')
    .action((o: { out?: string; force?: boolean }) =>
      run(() => {
        const kp = generateKeyPair();
        const publicKey = Buffer.from(kp.publicKey).toString('hex');
        if (!o.out) {
          print({ publicKey, secretKey: Buffer.from(kp.seed).toString('hex') });
          return;
        }
        const path = resolve(o.out);
        if (existsSync(path) && !o.force) throw new HotledgerError('BAD_REQUEST', `${path} already exists; pass --force to overwrite it`);
        writeKeyFile(path, kp, { overwrite: o.force === true });
        print(`public key ${publicKey}\nkey file   ${path}`);
      }),
    );
}
