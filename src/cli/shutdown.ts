import { fail } from './output.js';

/**
 * Closes `what` cleanly on SIGINT or SIGTERM and exits 0; a second signal exits at once. Started by
 * a supervisor (hotledger cluster, the fault campaign) with an IPC channel, it also closes when the
 * supervisor is gone, however it died; the channel never keeps the process alive by itself.
 */
export function closeOnShutdown(what: string, close: () => Promise<unknown>): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      process.stderr.write(`${signal} again: exiting without a clean shutdown\n`);
      process.exit(1);
    }
    stopping = true;
    process.stderr.write(`${signal}: shutting down ${what}\n`);
    close()
      .then(() => process.exit(0))
      .catch((e: unknown) => fail(e));
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  if (process.channel) {
    process.channel.unref();
    process.on('disconnect', () => stop('supervisor gone'));
  }
}
