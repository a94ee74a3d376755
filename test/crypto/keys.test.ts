import { describe, it, expect, beforeEach, afterEach } from 'vitest';
import { mkdtempSync, rmSync, statSync, writeFileSync, readFileSync, chmodSync, symlinkSync, lstatSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { generateKeyPair, keyPairFromSeed, readKeyFile, sign, writeKeyFile, type KeyPair } from '../../src/crypto/keys.js';
import { verifySignature } from '../../src/crypto/ed25519.js';
import { HotledgerError } from '../../src/errors.js';

const RFC_TEST1 = {
  seed: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
  publicKey: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
};

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hotledger-keys-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function expectKeyError(f: () => unknown, message: RegExp): void {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(HotledgerError);
  expect((err as HotledgerError).code).toBe('BAD_REQUEST');
  expect((err as Error).message).toMatch(message);
}

describe('key pairs', () => {
  it('keyPairFromSeed derives the RFC 8032 public key and copies the seed', () => {
    const seed = Buffer.from(RFC_TEST1.seed, 'hex');
    const kp = keyPairFromSeed(seed);
    expect(Buffer.from(kp.publicKey).toString('hex')).toBe(RFC_TEST1.publicKey);
    seed.fill(0);
    expect(Buffer.from(kp.seed).toString('hex')).toBe(RFC_TEST1.seed);
  });

  it('keyPairFromSeed refuses seeds that are not 32 bytes', () => {
    expectKeyError(() => keyPairFromSeed(new Uint8Array(31)), /32 bytes/);
    expectKeyError(() => keyPairFromSeed(new Uint8Array(64)), /32 bytes/);
  });

  it('generateKeyPair makes distinct, working keys', () => {
    const a = generateKeyPair();
    const b = generateKeyPair();
    expect(a.seed.length).toBe(32);
    expect(a.publicKey.length).toBe(32);
    expect(Buffer.from(a.seed).equals(Buffer.from(b.seed))).toBe(false);
    const msg = Buffer.from('hello');
    expect(verifySignature(sign(msg, a.seed), msg, a.publicKey)).toBe(true);
    expect(verifySignature(sign(msg, a.seed), msg, b.publicKey)).toBe(false);
  });
});

describe('key files', () => {
  const kp: KeyPair = keyPairFromSeed(Buffer.from(RFC_TEST1.seed, 'hex'));

  it('write then read round-trips, in the documented JSON shape', () => {
    const path = join(dir, 'nested', 'deeper', 'node.key.json');
    writeKeyFile(path, kp);
    const json = JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
    expect(json).toEqual({ publicKey: RFC_TEST1.publicKey, secretKey: RFC_TEST1.seed });
    const back = readKeyFile(path);
    expect(Buffer.from(back.seed).toString('hex')).toBe(RFC_TEST1.seed);
    expect(Buffer.from(back.publicKey).toString('hex')).toBe(RFC_TEST1.publicKey);
  });

  it('is written with mode 0600, also when it replaces an existing world-readable file (with overwrite)', () => {
    const path = join(dir, 'k.json');
    writeKeyFile(path, kp);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    const other = join(dir, 'existing.json');
    writeFileSync(other, '{}');
    chmodSync(other, 0o644);
    const inode = statSync(other).ino;
    writeKeyFile(other, kp, { overwrite: true });
    expect(statSync(other).mode & 0o777).toBe(0o600);
    // A new file replaced it: the secret was never written into the world-readable one.
    expect(statSync(other).ino).not.toBe(inode);
    expect(Buffer.from(readKeyFile(other).publicKey).toString('hex')).toBe(RFC_TEST1.publicKey);
  });

  it('is 0600 from creation: with a umask of 0 the file is still 0600, and a new directory is 0700', () => {
    const old = process.umask(0);
    try {
      const path = join(dir, 'fresh', 'k.json');
      writeKeyFile(path, kp);
      expect(statSync(path).mode & 0o777).toBe(0o600);
      expect(statSync(join(dir, 'fresh')).mode & 0o777).toBe(0o700);
    } finally {
      process.umask(old);
    }
  });

  it('refuses a symlink at the target path and leaves the file it points at untouched, also with overwrite', () => {
    const victim = join(dir, 'victim.txt');
    writeFileSync(victim, 'do not touch\n');
    chmodSync(victim, 0o644);
    const path = join(dir, 'k.json');
    symlinkSync(victim, path);
    expectKeyError(() => writeKeyFile(path, kp), /symbolic link/);
    expectKeyError(() => writeKeyFile(path, kp, { overwrite: true }), /symbolic link/);
    expect(readFileSync(victim, 'utf8')).toBe('do not touch\n');
    expect(statSync(victim).mode & 0o777).toBe(0o644);
    expect(lstatSync(path).isSymbolicLink()).toBe(true);
    // A dangling symlink (pointing where the secret would be created) is refused too.
    const dangling = join(dir, 'd.json');
    symlinkSync(join(dir, 'would-be-created.json'), dangling);
    expectKeyError(() => writeKeyFile(dangling, kp), /symbolic link/);
    expect(existsSync(join(dir, 'would-be-created.json'))).toBe(false);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('does not silently overwrite an existing key file with another key; the same key again is a no-op', () => {
    const path = join(dir, 'k.json');
    writeKeyFile(path, kp);
    const other = generateKeyPair();
    expectKeyError(() => writeKeyFile(path, other), /already exists/);
    expect(Buffer.from(readKeyFile(path).publicKey).toString('hex')).toBe(RFC_TEST1.publicKey);
    chmodSync(path, 0o644);
    writeKeyFile(path, kp); // same key: kept, mode tightened
    expect(statSync(path).mode & 0o777).toBe(0o600);
    writeKeyFile(path, other, { overwrite: true });
    expect(Buffer.from(readKeyFile(path).publicKey).toString('hex')).toBe(Buffer.from(other.publicKey).toString('hex'));
  });

  it('accepts upper-case hex and a file without publicKey', () => {
    const path = join(dir, 'k.json');
    writeFileSync(path, JSON.stringify({ secretKey: RFC_TEST1.seed.toUpperCase(), publicKey: RFC_TEST1.publicKey.toUpperCase() }));
    expect(Buffer.from(readKeyFile(path).publicKey).toString('hex')).toBe(RFC_TEST1.publicKey);
    writeFileSync(path, JSON.stringify({ secretKey: RFC_TEST1.seed }));
    expect(Buffer.from(readKeyFile(path).publicKey).toString('hex')).toBe(RFC_TEST1.publicKey);
  });

  it('refuses a publicKey that does not match the secretKey', () => {
    const path = join(dir, 'k.json');
    const other = generateKeyPair();
    writeFileSync(path, JSON.stringify({ publicKey: Buffer.from(other.publicKey).toString('hex'), secretKey: RFC_TEST1.seed }));
    expectKeyError(() => readKeyFile(path), /publicKey does not match secretKey/);
  });

  it('garbage and malformed files give a clear HotledgerError naming the file', () => {
    const path = join(dir, 'bad.json');
    const cases: [string, RegExp][] = [
      ['not json at all \x00\x01', /cannot read key file .*bad\.json/],
      ['', /cannot read key file/],
      ['null', /not a JSON object/],
      ['[1,2]', /not a JSON object/],
      ['"9d61b1"', /not a JSON object/],
      ['{}', /no 64-hex-digit secretKey/],
      [JSON.stringify({ secretKey: RFC_TEST1.seed.slice(2) }), /no 64-hex-digit secretKey/],
      [JSON.stringify({ secretKey: `zz${RFC_TEST1.seed.slice(2)}` }), /no 64-hex-digit secretKey/],
      [JSON.stringify({ secretKey: 12345 }), /no 64-hex-digit secretKey/],
      [JSON.stringify({ secretKey: RFC_TEST1.seed, publicKey: 42 }), /publicKey must be a hex string/],
    ];
    for (const [body, msg] of cases) {
      writeFileSync(path, body);
      expectKeyError(() => readKeyFile(path), msg);
      try {
        readKeyFile(path);
      } catch (e) {
        expect((e as Error).message).toContain(path);
      }
    }
  });

  it('a missing file is a HotledgerError too', () => {
    expectKeyError(() => readKeyFile(join(dir, 'nope.json')), /cannot read key file .*ENOENT/);
  });
});
