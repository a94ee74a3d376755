import type { Command } from 'commander';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../runtime/module-path.js';
import { HotledgerError } from '../../errors.js';
import { run } from '../output.js';

export const BENCHES = ['http', 'engine', 'cluster'] as const;

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description(`run a benchmark script from dist/bench (${BENCHES.join(', ')}); arguments after the name go to the script`)
    .argument('<name>', `which benchmark: ${BENCHES.join(' | ')}`)
    .argument('[args...]', 'arguments for the benchmark, e.g. -- --duration 10 --json out.json')
    .allowUnknownOption()
    .helpOption('--bench-help', 'show help for the bench command itself')
    .action((name: string, args: string[]) =>
      run(async () => {
        if (!(BENCHES as readonly string[]).includes(name)) throw new HotledgerError('BAD_REQUEST', `unknown benchmark "${name}"; choose one of ${BENCHES.join(', ')}`);
        const script = join(projectRoot(), 'dist', 'bench', `${name}.js`);
        if (!existsSync(script)) throw new HotledgerError('INTERNAL', `${script} is missing: run \`npm run build\` first`);
        const code = await new Promise<number>((resolve, reject) => {
          const child = spawn(process.execPath, [script, ...args], { stdio: 'inherit' });
          child.on('error', reject);
          child.on('exit', (c, sig) => resolve(c ?? (sig ? 1 : 0)));
        });
        if (code !== 0) process.exit(code);
      }),
    );
}
