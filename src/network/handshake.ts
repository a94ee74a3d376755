import { randomBytes } from 'node:crypto';
import { sodiumSign, verifySignature } from '../crypto/ed25519.js';
import { NetworkError } from './errors.js';

export const PROTOCOL_VERSION = 1;
/** 27 ASCII bytes + NUL: the NUL keeps the tag prefix-free against any longer future tag. */
export const HANDSHAKE_TAG = Buffer.from('hotledger/peer-handshake/v1\0', 'latin1');
export const CHALLENGE_BYTES = 32;
export const HELLO_BYTES = 2 + 4 + 4 + 32 + CHALLENGE_BYTES;
export const AUTH_BYTES = 64;
export const TRANSCRIPT_BYTES = HANDSHAKE_TAG.length + 4 + 2 + CHALLENGE_BYTES * 2 + 4 + 4;

export interface Hello {
  version: number;
  chainId: number;
  index: number;
  publicKey: Buffer;
  challenge: Buffer;
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
  return b;
}

export function decodeHello(body: Buffer): Hello {
  if (body.length !== HELLO_BYTES) throw new NetworkError('PROTOCOL_ERROR', `HELLO must be ${HELLO_BYTES} bytes, got ${body.length}`);
  return {
    version: body.readUInt16BE(0),
    chainId: body.readUInt32BE(2),
    index: body.readUInt32BE(6),
    // Copies: the body may be a view into a socket chunk that is reused for later frames.
    publicKey: Buffer.from(body.subarray(10, 42)),
    challenge: Buffer.from(body.subarray(42, 74)),
  };
}

/**
 * The bytes a signer S signs for a verifier V. V's challenge comes first and S's index before V's,
 * so the transcript S signs towards V is never the one V signs towards S: a signature cannot be
 * reflected back to its author, and V's fresh challenge makes it unusable on any other connection.
 */
export function transcript(p: {
  chainId: number;
  version: number;
  verifierChallenge: Uint8Array;
  signerChallenge: Uint8Array;
  signerIndex: number;
  verifierIndex: number;
}): Buffer {
  const b = Buffer.alloc(TRANSCRIPT_BYTES);
  let o = HANDSHAKE_TAG.copy(b, 0);
  o = b.writeUInt32BE(p.chainId, o);
  o = b.writeUInt16BE(p.version, o);
  o += Buffer.from(p.verifierChallenge).copy(b, o);
  o += Buffer.from(p.signerChallenge).copy(b, o);
  o = b.writeUInt32BE(p.signerIndex, o);
  b.writeUInt32BE(p.verifierIndex, o);
  return b;
}

export function signTranscript(t: Buffer, secretKey64: Uint8Array): Buffer {
  return sodiumSign(t, secretKey64, Buffer.alloc(AUTH_BYTES));
}

export function verifyTranscript(signature: Uint8Array, t: Buffer, publicKey: Uint8Array): boolean {
  return signature.length === AUTH_BYTES && verifySignature(signature, t, publicKey);
}
