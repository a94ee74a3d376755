import { HotledgerError } from '../errors.js';
import { ApiResponseError } from './client.js';

export function print(value: unknown): void {
  process.stdout.write(typeof value === 'string' ? `${value}\n` : `${JSON.stringify(value, null, 2)}\n`);
}

/** Words for any failure: `error: <message>` on stderr, never a stack trace (unless HOTLEDGER_DEBUG=1). */
export function describeError(e: unknown): string {
  if (e instanceof ApiResponseError) return `${e.message} (${e.code}, HTTP ${e.status})`;
  if (e instanceof HotledgerError) return `${e.message} (${e.code})`;
  if (e instanceof Error) return e.message;
  return String(e);
}

export function fail(e: unknown, exitCode = 1): never {
  process.stderr.write(`error: ${describeError(e)}\n`);
  if (process.env.HOTLEDGER_DEBUG === '1' && e instanceof Error && e.stack) process.stderr.write(`${e.stack}\n`);
  process.exit(exitCode);
}

/** Runs a command body; any error ends the process with words and exit code 1. */
export async function run(body: () => Promise<void> | void): Promise<void> {
  try {
    await body();
  } catch (e) {
    fail(e);
  }
}
