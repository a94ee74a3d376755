import { fail } from './output.js';

/**
 * Watched from the moment this module loads (the CLI imports it before any command runs): a
 * supervisor that dies while a node is still starting closes the IPC channel before
 * `closeOnShutdown` is called, and a listener added then never fires. Seen: host and node
 * processes of a benchmark whose supervisor died during their start ran on for hours.
 */
let supervisorGone = false;
let onSupervisorGone: (() => void) | undefined;
// Spawned with an IPC channel (`process.send` exists). A channel that closed before this process
// bootstrapped is not even set up: `process.channel` is undefined and `connected` false.
if (typeof process.send === 'function') {
  if (!process.channel || !process.connected) supervisorGone = true;
  else {
    process.channel.unref();
    process.once('disconnect', () => {
      supervisorGone = true;
      onSupervisorGone?.();
    });
  }
}

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
  onSupervisorGone = () => stop('supervisor gone');
  if (supervisorGone) stop('supervisor gone');
}
