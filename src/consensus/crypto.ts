import { sodiumSecretKey, sodiumSign } from '../crypto/ed25519.js';
import { verifyOnce } from '../crypto/verified-signatures.js';

/**
 * What the core needs from cryptography. Messages are already domain-tagged by the caller
 * (see types.ts signing-bytes helpers), so implementations sign the bytes as given.
 */
export interface ConsensusCrypto {
  sign(msg: Uint8Array): Uint8Array;
  /** Never throws; false for an unknown validator index. */
  verify(index: number, msg: Uint8Array, sig: Uint8Array): boolean;
}

/**
 * Production implementation: libsodium Ed25519, strict verification (the consensus rule), each
 * (key, message, signature) verified once per process (verifyOnce).
 */
export class Ed25519ConsensusCrypto implements ConsensusCrypto {
  private readonly secretKey: Buffer | undefined;
  private readonly publicKeys: Uint8Array[];

  /**
   * seed32: this validator's 32-byte Ed25519 seed, or null for a member that only checks
   * certificates (a follower); publicKeys: the validator set in index order.
   */
  constructor(seed32: Uint8Array | null, publicKeys: Uint8Array[]) {
    this.secretKey = seed32 ? sodiumSecretKey(seed32).secretKey : undefined;
    this.publicKeys = publicKeys;
  }

  sign(msg: Uint8Array): Uint8Array {
    if (!this.secretKey) throw new Error('this member has no validator key: it never signs consensus messages');
    return new Uint8Array(sodiumSign(msg, this.secretKey));
  }

  verify(index: number, msg: Uint8Array, sig: Uint8Array): boolean {
    const pk = Number.isInteger(index) ? this.publicKeys[index] : undefined;
    return pk !== undefined && verifyOnce(sig, msg, pk);
  }
}
