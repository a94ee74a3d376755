import { HotledgerError, type ErrorCode } from '../errors.js';

/**
 * An integer command-line value in [min, max], or the typed error naming the flag and the range.
 * `code`: BAD_REQUEST for a transaction's fields, CONFIG_INVALID for how a cluster is laid out.
 */
export function intOption(flag: string, raw: string, min: number, max: number, code: ErrorCode = 'BAD_REQUEST'): number {
  const v = raw.trim();
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(Number(v)) || Number(v) < min || Number(v) > max) {
    throw new HotledgerError(code, `${flag} must be an integer from ${min} to ${max} (got ${JSON.stringify(raw)})`);
  }
  return Number(v);
}
