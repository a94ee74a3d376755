/**
 * Polls `probe` until it returns a value (anything but undefined or false), or throws after
 * `timeoutMs` naming what was awaited and, when given, what `context()` says (a child's stderr,
 * the last values seen). The one polling helper of the process-level tests.
 */
export async function pollUntil<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  opts: { intervalMs?: number; context?: () => string } = {},
): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${opts.context ? `; ${opts.context()}` : ''}`);
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 50));
  }
}
