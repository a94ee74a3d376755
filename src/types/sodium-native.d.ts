// Only the calls hotledger makes; sodium-native ships no type declarations.
declare module 'sodium-native' {
  const sodium: {
    crypto_sign_verify_detached(signature: Buffer, message: Buffer, publicKey: Buffer): boolean;
    crypto_sign_detached(signature: Buffer, message: Buffer, secretKey: Buffer): void;
    crypto_sign_seed_keypair(publicKey: Buffer, secretKey: Buffer, seed: Buffer): void;
    crypto_sign_keypair(publicKey: Buffer, secretKey: Buffer): void;
    crypto_hash_sha256(out: Uint8Array, input: Uint8Array): void;
  };
  export default sodium;
}
