import { randomBytes } from 'node:crypto';
import { closeSync, constants, fchmodSync, fstatSync, fsyncSync, linkSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { HotledgerError } from '../errors.js';
import { keyPairFromSeed, type KeyPair } from './noble.js';

// Key generation and signing are pure JS in noble.ts (the browser client needs them without node:); this adds the key files.
export { generateKeyPair, keyPairFromSeed, nobleVerify, sign, type KeyPair } from './noble.js';

/** Key file: JSON `{ "publicKey": hex, "secretKey": hex(seed) }`, written mode 0600. */
export interface KeyFile {
  publicKey: string;
  secretKey: string;
}

export interface WriteKeyFileOptions {
  /** Replace an existing key file holding another key (never through a symlink). Default false. */
  overwrite?: boolean;
}

const { O_WRONLY, O_RDONLY, O_CREAT, O_EXCL, O_NOFOLLOW } = constants;

/**
 * Writes a key file so that the secret is never readable by others and never lands anywhere but
 * `path`: it goes into a fresh file in the same directory, created 0600 with O_EXCL|O_NOFOLLOW
 * (so neither a planted file nor a symlink there is written through), fsynced, then linked to
 * `path` (fails if anything appeared there) or, with `overwrite`, renamed over it (rename replaces
 * a directory entry and never follows a symlink). A symlink at `path` is refused either way. An
 * existing file with this very key pair is left as it is (its mode tightened to 0600), so writing
 * a node's fixed devnet keys again is harmless; one with another key is refused unless
 * `overwrite`. A directory that has to be created is created 0700.
 */
export function writeKeyFile(path: string, kp: KeyPair, opts: WriteKeyFileOptions = {}): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const body: KeyFile = { publicKey: Buffer.from(kp.publicKey).toString('hex'), secretKey: Buffer.from(kp.seed).toString('hex') };
  const text = `${JSON.stringify(body, null, 2)}\n`;
  const existing = lstatOrUndefined(path);
  if (existing?.isSymbolicLink()) throw new HotledgerError('BAD_REQUEST', `refusing to write key file ${path}: it is a symbolic link`);
  if (existing && !opts.overwrite) {
    if (existing.isFile() && holdsKey(path, body)) return;
    throw new HotledgerError('BAD_REQUEST', `key file ${path} already exists with another key; refusing to overwrite it`);
  }
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600);
  try {
    fchmodSync(fd, 0o600); // exactly 0600 whatever the umask, before a byte of the secret is written
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  try {
    if (opts.overwrite) renameSync(tmp, path);
    else linkSync(tmp, path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new HotledgerError('BAD_REQUEST', `key file ${path} appeared while it was being written; refusing to overwrite it`);
    throw e;
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      /* renamed */
    }
  }
  syncDir(dir);
}

function lstatOrUndefined(path: string): import('node:fs').Stats | undefined {
  try {
    return lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/** Whether the regular file at `path` (opened without following a symlink) holds this key; tightens it to 0600 if so. */
function holdsKey(path: string, body: KeyFile): boolean {
  const fd = openSync(path, O_RDONLY | O_NOFOLLOW);
  try {
    if (!fstatSync(fd).isFile()) return false;
    const f = JSON.parse(readFileSync(fd, 'utf8')) as Partial<KeyFile>;
    const same = typeof f.secretKey === 'string' && f.secretKey.toLowerCase() === body.secretKey;
    if (same) fchmodSync(fd, 0o600);
    return same;
  } catch {
    return false;
  } finally {
    closeSync(fd);
  }
}

/** Makes the new directory entry durable (a crash right after must not lose the key file). */
function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, O_RDONLY);
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    /* not supported on this file system */
  }
}

export function readKeyFile(path: string): KeyPair {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new HotledgerError('BAD_REQUEST', `cannot read key file ${path}: ${(e as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new HotledgerError('BAD_REQUEST', `key file ${path} is not a JSON object`);
  }
  const f = parsed as Partial<Record<keyof KeyFile, unknown>>;
  if (f.publicKey !== undefined && typeof f.publicKey !== 'string') {
    throw new HotledgerError('BAD_REQUEST', `key file ${path}: publicKey must be a hex string`);
  }
  if (typeof f.secretKey !== 'string' || !/^[0-9a-f]{64}$/i.test(f.secretKey)) {
    throw new HotledgerError('BAD_REQUEST', `key file ${path} has no 64-hex-digit secretKey`);
  }
  const kp = keyPairFromSeed(Buffer.from(f.secretKey, 'hex'));
  if (typeof f.publicKey === 'string' && f.publicKey.toLowerCase() !== Buffer.from(kp.publicKey).toString('hex')) {
    throw new HotledgerError('BAD_REQUEST', `key file ${path}: publicKey does not match secretKey`);
  }
  return kp;
}
