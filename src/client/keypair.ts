import type { KeyFile, WriteKeyFileOptions } from '../crypto/keys.js';
import { generateKeyPair, keyPairFromSeed, type KeyPair } from '../crypto/noble.js';
import { bytesOf, hexOf } from './hex.js';
import { readKeyFile, writeKeyFile } from './keyfile.js';

/**
 * An Ed25519 signing key, in the key-file format of src/crypto/keys.ts
 * (`{ "publicKey": hex, "secretKey": hex(seed) }`). Pure JS (noble), browsers included; the file
 * helpers (readFile, writeFile) need node:fs and throw UNSUPPORTED_PLATFORM in a browser bundle.
 */
export class Keypair implements KeyPair {
  readonly seed: Uint8Array;
  readonly publicKey: Uint8Array;
  private constructor(kp: KeyPair) {
    this.seed = kp.seed;
    this.publicKey = kp.publicKey;
  }
  static generate(): Keypair {
    return new Keypair(generateKeyPair());
  }
  static fromSeed(seed: Uint8Array | string): Keypair {
    return new Keypair(keyPairFromSeed(typeof seed === 'string' ? bytesOf(seed, 'seed', 32) : seed));
  }
  /** Parses the key-file JSON object (checks the public key against the seed when it is there). */
  static fromKeyFile(f: KeyFile): Keypair {
    const kp = Keypair.fromSeed(f.secretKey);
    if (f.publicKey !== undefined && f.publicKey.toLowerCase() !== kp.publicKeyHex) throw new Error('key file: publicKey does not match secretKey');
    return kp;
  }
  static readFile(path: string): Keypair {
    return new Keypair(readKeyFile(path));
  }
  get publicKeyHex(): string {
    return hexOf(this.publicKey);
  }
  toKeyFile(): KeyFile {
    return { publicKey: this.publicKeyHex, secretKey: hexOf(this.seed) };
  }
  /** Written 0600, never through a symlink (src/crypto/keys.ts writeKeyFile). */
  writeFile(path: string, opts?: WriteKeyFileOptions): void {
    writeKeyFile(path, this, opts);
  }
}
