import { randomBytes } from 'node:crypto';
import { sodiumSign, verifySignature } from '../crypto/ed25519.js';
import { NetworkError } from './errors.js';

/** 2: HELLO carries an ephemeral X25519 key and every frame after AUTH is sealed (channel.ts). */
export const PROTOCOL_VERSION = 2;
/** 27 ASCII bytes + NUL: the NUL keeps the tag prefix-free against any longer future tag. */
export const HANDSHAKE_TAG = Buffer.from('hotledger/peer-handshake/v2\0', 'latin1');
export const CHALLENGE_BYTES = 32;
export const KX_PUBLIC_KEY_BYTES = 32;
export const HELLO_BYTES = 2 + 4 + 4 + 32 + CHALLENGE_BYTES + KX_PUBLIC_KEY_BYTES;
export const AUTH_BYTES = 64;
export const TRANSCRIPT_BYTES = HANDSHAKE_TAG.length + 4 + 2 + CHALLENGE_BYTES * 2 + 4 + 4 + KX_PUBLIC_KEY_BYTES * 2;

export interface Hello {
  version: number;
  chainId: number;
  index: number;
  publicKey: Buffer;
  challenge: Buffer;
  /** Ephemeral X25519 public key of this connection (crypto_kx); its secret never outlives the connection. */
  kxPublicKey: Buffer;
}

export function newChallenge(): Buffer {
  return randomBytes(CHALLENGE_BYTES);
}

export function encodeHello(h: Hello): Buffer {
  const b = Buffer.alloc(HELLO_BYTES);
  b.writeUInt16BE(h.version, 0);
  b.writeUInt32BE(h.chainId, 2);
  b.writeUInt32BE(h.index, 6);
  h.publicKey.copy(b, 10);
  h.challenge.copy(b, 42);
  h.kxPublicKey.copy(b, 74);
  return b;
}

export function decodeHello(body: Buffer): Hello {
  // The version is read first so a peer on another version gets PROTOCOL_VERSION, not a length error.
  if (body.length >= 2 && body.readUInt16BE(0) !== PROTOCOL_VERSION) {
    const v = body.readUInt16BE(0);
    throw new NetworkError('PROTOCOL_VERSION', `protocol version ${v}, expected ${PROTOCOL_VERSION}`, undefined, { remoteVersion: v });
  }
  if (body.length !== HELLO_BYTES) throw new NetworkError('PROTOCOL_ERROR', `HELLO must be ${HELLO_BYTES} bytes, got ${body.length}`);
  return {
    version: body.readUInt16BE(0),
    chainId: body.readUInt32BE(2),
    index: body.readUInt32BE(6),
    // Copies: the body may be a view into a socket chunk that is reused for later frames.
    publicKey: Buffer.from(body.subarray(10, 42)),
    challenge: Buffer.from(body.subarray(42, 74)),
    kxPublicKey: Buffer.from(body.subarray(74, 106)),
  };
}

/**
 * The bytes a signer S signs for a verifier V. V's challenge comes first and S's index before V's,
 * so the transcript S signs towards V is never the one V signs towards S: a signature cannot be
 * reflected back to its author, and V's fresh challenge makes it unusable on any other connection.
 * Both ephemeral key-exchange keys are signed, so an on-path relay cannot swap in its own and sit
 * between two session keys: the session keys belong to the two validators who signed.
 */
export function transcript(p: {
  chainId: number;
  version: number;
  verifierChallenge: Uint8Array;
  signerChallenge: Uint8Array;
  signerIndex: number;
  verifierIndex: number;
  verifierKx: Uint8Array;
  signerKx: Uint8Array;
}): Buffer {
  const b = Buffer.alloc(TRANSCRIPT_BYTES);
  let o = HANDSHAKE_TAG.copy(b, 0);
  o = b.writeUInt32BE(p.chainId, o);
  o = b.writeUInt16BE(p.version, o);
  o += Buffer.from(p.verifierChallenge).copy(b, o);
  o += Buffer.from(p.signerChallenge).copy(b, o);
  o = b.writeUInt32BE(p.signerIndex, o);
  o = b.writeUInt32BE(p.verifierIndex, o);
  o += Buffer.from(p.verifierKx).copy(b, o);
  Buffer.from(p.signerKx).copy(b, o);
  return b;
}

export function signTranscript(t: Buffer, secretKey64: Uint8Array): Buffer {
  return sodiumSign(t, secretKey64, Buffer.alloc(AUTH_BYTES));
}

export function verifyTranscript(signature: Uint8Array, t: Buffer, publicKey: Uint8Array): boolean {
  return signature.length === AUTH_BYTES && verifySignature(signature, t, publicKey);
}
