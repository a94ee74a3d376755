import { InvalidArgumentError } from 'commander';

/**
 * An integer command-line value in [min, max], or exit 2 with a message naming the flag and the
 * allowed range (benches parse with node:util parseArgs, whose values are strings).
 */
export function intArg(values: Record<string, unknown>, name: string, min: number, max: number): number {
  const raw = values[name];
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max) {
    process.stderr.write(`error: --${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(raw)})\n`);
    process.exit(2);
  }
  return v;
}

/** A commander option parser for an integer in [1, max]; the error names the flag and the range. */
export function positiveInt(name: string, max: number): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 1 || n > max) throw new InvalidArgumentError(`${name} must be an integer from 1 to ${max}`);
    return n;
  };
}
