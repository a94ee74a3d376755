import sodium from 'sodium-native';

const SIG = 64;
const PK = 32;

/**
 * Strict Ed25519 verification on libsodium: the consensus rule of hotledger. libsodium rejects
 * non-canonical S, small-order R and small-order / non-canonical public keys, and compares R bytes
 * (cofactorless). Never throws: any wrong length or malformed input is simply `false`.
 *
 * Inputs must not be backed by a SharedArrayBuffer (sodium-native 5 misbehaves on those): callers
 * on the hot path hand plain buffers, and this function copies defensively when it sees one.
 */
export function verifySignature(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (!(signature instanceof Uint8Array) || !(message instanceof Uint8Array) || !(publicKey instanceof Uint8Array)) return false;
  if (signature.length !== SIG || publicKey.length !== PK) return false;
  try {
    const ok = sodium.crypto_sign_verify_detached(plain(signature), plain(message), plain(publicKey));
    return ok === true;
  } catch {
    return false;
  }
}

function plain(u: Uint8Array): Buffer {
  if (u.buffer instanceof SharedArrayBuffer) return Buffer.from(u);
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.length);
}

/** Fast detached signing with libsodium, for workload generation where noble is too slow. */
export function sodiumSign(message: Uint8Array, secretKey64: Uint8Array, out: Buffer = Buffer.allocUnsafe(SIG)): Buffer {
  sodium.crypto_sign_detached(out, plain(message), plain(secretKey64));
  return out;
}

/** libsodium's 64-byte secret key (seed || public key) from a 32-byte seed. */
export function sodiumSecretKey(seed32: Uint8Array): { publicKey: Buffer; secretKey: Buffer } {
  const publicKey = Buffer.alloc(PK);
  const secretKey = Buffer.alloc(64);
  sodium.crypto_sign_seed_keypair(publicKey, secretKey, plain(seed32));
  return { publicKey, secretKey };
}
