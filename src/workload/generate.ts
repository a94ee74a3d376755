import { createHash } from 'node:crypto';
import type { KeyPair } from '../crypto/keys.js';
import { sodiumSecretKey, sodiumSign } from '../crypto/ed25519.js';
import { signingMessage } from '../tx/codec.js';
import { Off, TX_SIZE } from '../tx/layout.js';
import { encodeUnsigned } from '../tx/transaction.js';

/**
 * Deterministic, PUBLIC and therefore insecure keys: every process of a devnet or test cluster
 * derives the same keys without exchanging files. Never use on a real chain.
 */
export function publicDerivedKeyPair(domain: string, chainId: number, index: number): KeyPair {
  const tag = Buffer.alloc(8);
  tag.writeUInt32LE(chainId >>> 0, 0);
  tag.writeUInt32LE(index >>> 0, 4);
  const seed = createHash('sha256').update(domain).update(tag).digest();
  // libsodium derives the public key ~15x faster than noble; genesis of a large devnet derives thousands.
  return { seed: Uint8Array.from(seed), publicKey: Uint8Array.from(sodiumSecretKey(seed).publicKey) };
}

/** Funded devnet accounts (genesis), derived publicly: see publicDerivedKeyPair. */
export function devnetKeyPair(chainId: number, index: number): KeyPair {
  return publicDerivedKeyPair('hotledger/devnet-key/v1\0', chainId, index);
}

export interface TransferWorkload {
  chainId: number;
  senders: KeyPair[];
  recipients: Uint8Array[];
  count: number;
  /** Nonce of each sender's first transaction; defaults to 1 (a fresh account's next nonce). */
  startNonces?: number[];
  /** Called every 4096 signed transactions, for progress bars. */
  onProgress?: (done: number) => void;
}

/**
 * Signed transfers, senders taken round-robin so per-sender nonces stay consecutive. Signed with
 * libsodium (~15x noble): workload generation is a client job, but benchmarks need millions.
 */
export function generateTransfers(w: TransferWorkload): Buffer {
  const out = Buffer.alloc(w.count * TX_SIZE);
  const secrets = w.senders.map((s) => sodiumSecretKey(s.seed).secretKey);
  const nonces = w.senders.map((_, i) => w.startNonces?.[i] ?? 1);
  const msg = Buffer.allocUnsafe(120);
  const sig = Buffer.allocUnsafe(64);
  for (let i = 0; i < w.count; i++) {
    const s = i % w.senders.length;
    const sender = w.senders[s]!;
    let recipient = w.recipients[i % w.recipients.length]!;
    if (Buffer.compare(Buffer.from(recipient), Buffer.from(sender.publicKey)) === 0) recipient = w.recipients[(i + 1) % w.recipients.length]!;
    const off = i * TX_SIZE;
    encodeUnsigned({ chainId: w.chainId, sender: sender.publicKey, recipient, amount: 1 + (i % 97), nonce: nonces[s]!++ }, out, off);
    signingMessage(out, off, msg);
    sodiumSign(msg, secrets[s]!, sig);
    sig.copy(out, off + Off.SIGNATURE);
    if (w.onProgress && (i & 4095) === 4095) w.onProgress(i + 1);
  }
  w.onProgress?.(w.count);
  return out;
}
