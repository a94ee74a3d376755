/**
 * The one binary layout of a transaction. Fixed size, little-endian integers, so a batch is a
 * flat buffer and the hot path never allocates an object per transaction.
 * docs/transaction-format.md is the normative description; keep the two in step.
 */
export const TX_SIZE = 168;
export const TX_BODY_SIZE = 104;

export const TX_VERSION = 1;
export const TX_KIND_TRANSFER = 1;

export const Off = {
  VERSION: 0, // u8
  KIND: 1, // u8
  FLAGS: 2, // u16, must be 0 in version 1
  CHAIN_ID: 4, // u32
  SENDER: 8, // 32 bytes, Ed25519 public key
  RECIPIENT: 40, // 32 bytes, Ed25519 public key of the receiving account
  AMOUNT: 72, // u64
  NONCE: 80, // u64
  REFERENCE: 88, // 16 opaque bytes (invoice / payment reference)
  SIGNATURE: 104, // 64 bytes, Ed25519 over SIGNING_DOMAIN || body
} as const;

export const KEY_SIZE = 32;
export const SIGNATURE_SIZE = 64;
export const REFERENCE_SIZE = 16;
export const TX_ID_SIZE = 32;

/** Domain tag prepended to the body before signing: a tx signature can never be a vote's. */
export const SIGNING_DOMAIN: Uint8Array = new TextEncoder().encode('hotledger/tx/v1\0'); // 16 bytes (ASCII), no Buffer: the browser client uses this module
export const SIGNING_MESSAGE_SIZE = SIGNING_DOMAIN.length + TX_BODY_SIZE; // 120

/**
 * Amounts, balances and nonces are u64 on the wire but capped at 2^53 - 1 so they stay exact
 * JavaScript numbers in execution; genesis supply is capped the same way, so no balance can ever
 * overflow (transfers conserve supply).
 */
export const MAX_AMOUNT = Number.MAX_SAFE_INTEGER;
