import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';

// noble's hex, not Buffer: the client runs in browsers.
export function hexOf(u: Uint8Array): string {
  return bytesToHex(u);
}

export function bytesOf(key: Uint8Array | string, what: string, size: number): Uint8Array {
  if (typeof key !== 'string') {
    if (key.length !== size) throw new TypeError(`${what} must be ${size} bytes`);
    return key;
  }
  if (key.length !== size * 2 || !/^[0-9a-fA-F]*$/.test(key)) throw new TypeError(`${what} must be ${size * 2} hex digits`);
  return hexToBytes(key);
}
