import type { KeyPair, WriteKeyFileOptions } from '../crypto/keys.js';
import { ClientError } from './errors.js';

// What a browser bundle gets for keyfile.ts (package.json `browser`): a page has no file system.

const unsupported = (what: string) =>
  new ClientError('UNSUPPORTED_PLATFORM', `${what}: key files need Node's file system; in a browser use Keypair.fromKeyFile(json) / toKeyFile()`, { retrySafe: false });

export function readKeyFile(path: string): KeyPair {
  throw unsupported(`reading ${path}`);
}

export function writeKeyFile(path: string, _kp: KeyPair, _opts?: WriteKeyFileOptions): void {
  throw unsupported(`writing ${path}`);
}
