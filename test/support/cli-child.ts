import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

/** The compiled CLI the CLI tests run (dist/, `npm run build`; npm test builds first). */
export const CLI_MAIN = resolve('dist/src/cli/main.js');
/** A stack trace in a command's output: the CLI must explain failures in words instead. */
export const STACK = /\n\s+at .+\(.*:\d+:\d+\)|node:internal/;

/** Runs `hotledger <args>` to completion (HOTLEDGER_URL cleared unless `env` sets it). */
export function cli(args: string[], env: Record<string, string> = {}): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI_MAIN, ...args], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, HOTLEDGER_URL: '', ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

export interface DevnetChild {
  node: ChildProcess;
  /** API base URL the node printed. */
  url: string;
  /** The funded devnet key file the node printed as its example. */
  keyFile: string;
  /** Everything the node printed on stdout so far. */
  stdout: () => string;
}

/** `hotledger start --devnet` on a free port in `dataDir`, resolved once it printed its API URL and a key file. */
export async function startDevnetChild(dataDir: string, timeoutMs = 30_000): Promise<DevnetChild> {
  const node = spawn(process.execPath, [CLI_MAIN, 'start', '--devnet', '--port', '0', '--data-dir', dataDir], {
    env: { ...process.env, HOTLEDGER_LOG_LEVEL: 'warn', HOTLEDGER_THREADS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  node.stderr!.on('data', (d) => (stderr += d));
  node.stdout!.on('data', (d) => (stdout += d));
  return new Promise<DevnetChild>((res, rej) => {
    const t = setTimeout(() => rej(new Error(`node did not start: ${stdout} ${stderr}`)), timeoutMs);
    const check = (): void => {
      const u = /API\s+(http:\/\/\S+?)\/api\/v11/.exec(stdout);
      const k = /e\.g\. (\S+\.json)/.exec(stdout);
      if (!u || !k) return;
      clearTimeout(t);
      node.stdout!.off('data', check);
      res({ node, url: u[1]!, keyFile: k[1]!, stdout: () => stdout });
    };
    node.stdout!.on('data', check);
    node.once('exit', (c) => rej(new Error(`node exited with ${c}: ${stderr}`)));
  });
}
