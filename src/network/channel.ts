import sodium from 'sodium-native';
import { NetworkError } from './errors.js';
import { FRAME_HEADER_BYTES, type FrameKind } from './frame.js';

/** The libsodium calls this module makes (src/types/sodium-native.d.ts only declares the signing ones). */
interface SodiumChannelApi {
  crypto_kx_keypair(pk: Buffer, sk: Buffer): void;
  crypto_kx_client_session_keys(rx: Buffer, tx: Buffer, clientPk: Buffer, clientSk: Buffer, serverPk: Buffer): void;
  crypto_kx_server_session_keys(rx: Buffer, tx: Buffer, serverPk: Buffer, serverSk: Buffer, clientPk: Buffer): void;
  crypto_aead_chacha20poly1305_ietf_encrypt(c: Buffer, m: Buffer, ad: Buffer, nsec: null, npub: Buffer, k: Buffer): number;
  crypto_aead_chacha20poly1305_ietf_decrypt(m: Buffer, nsec: null, c: Buffer, ad: Buffer, npub: Buffer, k: Buffer): number;
}
const na = sodium as unknown as SodiumChannelApi;

export const KX_SECRET_KEY_BYTES = 32;
export const SESSION_KEY_BYTES = 32;
/** Poly1305 tag appended to every sealed frame body. */
export const AEAD_TAG_BYTES = 16;
const NONCE_BYTES = 12;

/** One connection's ephemeral X25519 key pair; the secret is wiped once the session keys exist. */
export class KxKeyPair {
  readonly publicKey = Buffer.alloc(32);
  private readonly secretKey = Buffer.alloc(KX_SECRET_KEY_BYTES);
  private wiped = false;

  constructor() {
    na.crypto_kx_keypair(this.publicKey, this.secretKey);
  }

  /**
   * Session keys with the remote's ephemeral key. The side with the lower validator index takes the
   * crypto_kx client role: both ends know both indices, so the roles never collide, and client tx is
   * server rx. Wipes the secret: a connection derives its keys once, so a later memory disclosure
   * cannot reopen old traffic (forward secrecy for past sessions).
   */
  deriveSessionKeys(asClient: boolean, remotePublicKey: Buffer): { rx: Buffer; tx: Buffer } {
    if (this.wiped) throw new NetworkError('PROTOCOL_ERROR', 'session keys derived twice');
    const rx = Buffer.alloc(SESSION_KEY_BYTES);
    const tx = Buffer.alloc(SESSION_KEY_BYTES);
    try {
      if (asClient) na.crypto_kx_client_session_keys(rx, tx, this.publicKey, this.secretKey, remotePublicKey);
      else na.crypto_kx_server_session_keys(rx, tx, this.publicKey, this.secretKey, remotePublicKey);
    } catch (e) {
      // libsodium refuses a remote key that yields the all-zero shared point (a small-order key).
      throw new NetworkError('PROTOCOL_ERROR', `unusable key-exchange public key: ${(e as Error).message}`);
    } finally {
      this.wipe();
    }
    return { rx, tx };
  }

  wipe(): void {
    this.secretKey.fill(0);
    this.wiped = true;
  }
}

/** 96-bit IETF nonce: 4 zero bytes, then the frame counter as u64 big-endian. */
function writeNonce(nonce: Buffer, counter: number): void {
  nonce.writeUInt32BE(Math.floor(counter / 0x1_0000_0000), 4);
  nonce.writeUInt32BE(counter >>> 0, 8);
}

/**
 * ChaCha20-Poly1305 (IETF) over every frame after AUTH. Each direction has its own key (crypto_kx rx/tx)
 * and its own frame counter as the nonce, never sent: the receiver expects counter n for its n-th
 * sealed frame, so a replayed, reordered, dropped or injected frame fails authentication. The frame
 * header (length prefix and kind) is the associated data: a changed length or kind fails too.
 * Counters are JS numbers: 2^53 frames is far beyond any connection's life, so a nonce never repeats.
 */
export class SealedChannel {
  private sent = 0;
  private received = 0;
  private readonly sendNonce = Buffer.alloc(NONCE_BYTES);
  private readonly recvNonce = Buffer.alloc(NONCE_BYTES);
  private readonly recvAd = Buffer.alloc(FRAME_HEADER_BYTES);

  constructor(
    private readonly tx: Buffer,
    private readonly rx: Buffer,
  ) {}

  /** The whole wire frame (header + ciphertext + tag) in one buffer, so it leaves in one write. */
  seal(kind: FrameKind, plaintext: Buffer): Buffer {
    const bodyLength = plaintext.length + AEAD_TAG_BYTES;
    const out = Buffer.allocUnsafe(FRAME_HEADER_BYTES + bodyLength);
    out.writeUInt32BE(bodyLength + 1, 0);
    out[4] = kind;
    writeNonce(this.sendNonce, this.sent++);
    na.crypto_aead_chacha20poly1305_ietf_encrypt(out.subarray(FRAME_HEADER_BYTES), plaintext, out.subarray(0, FRAME_HEADER_BYTES), null, this.sendNonce, this.tx);
    return out;
  }

  /**
   * Plaintext of the next sealed frame; throws FRAME_AUTH_FAILED and never returns unauthenticated
   * bytes. Decrypts in place (libsodium checks the tag before it writes): `body` is a frame the
   * decoder handed over, owned by nobody else, and a 20 MB frame then costs no second buffer. A
   * frame that fails is zeroed by libsodium; it is discarded with its link anyway.
   */
  open(kind: number, body: Buffer): Buffer {
    if (body.length < AEAD_TAG_BYTES) throw new NetworkError('FRAME_AUTH_FAILED', `sealed frame of ${body.length} bytes is shorter than its tag`);
    const ad = this.recvAd;
    ad.writeUInt32BE(body.length + 1, 0);
    ad[4] = kind;
    const plain = body.subarray(0, body.length - AEAD_TAG_BYTES);
    writeNonce(this.recvNonce, this.received);
    try {
      na.crypto_aead_chacha20poly1305_ietf_decrypt(plain, null, body, ad, this.recvNonce, this.rx);
    } catch {
      throw new NetworkError('FRAME_AUTH_FAILED', `frame ${this.received} (kind ${kind}) failed authentication`, undefined, { frame: this.received, kind });
    }
    this.received++;
    return plain;
  }
}
