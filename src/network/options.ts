import type { Logger } from 'pino';
import { ConfigError } from '../errors.js';
import type { MutableCounters } from './connection.js';
import type { NetErrorCode } from './errors.js';
import { DEFAULT_MAX_FRAME_BYTES, MAX_MAX_FRAME_BYTES } from './frame.js';

export interface PeerInfo {
  index: number;
  publicKey: Uint8Array;
  host: string;
  port: number;
}

export interface PeerTransportOptions {
  /** This validator's index in `validators`. */
  index: number;
  /** This validator's 32-byte Ed25519 seed; its public key must equal `validators[index].publicKey`. */
  seed: Uint8Array;
  validators: readonly PeerInfo[];
  chainId: number;
  /** Default: this validator's own `host` entry. */
  listenHost?: string;
  /** Default: this validator's own `port` entry; 0 picks a free port (read it from `port` after start). */
  listenPort?: number;
  maxFrameBytes?: number;
  maxQueueMessages?: number;
  maxQueueBytes?: number;
  /** Whole handshake, TCP connect included; a stranger holds a pending slot at most this long. */
  handshakeTimeoutMs?: number;
  reconnectBaseMs?: number;
  reconnectMaxMs?: number;
  pingIntervalMs?: number;
  idleTimeoutMs?: number;
  /** Unauthenticated inbound sockets at once, all addresses (the oldest is evicted beyond it). */
  maxPendingHandshakes?: number;
  /** Unauthenticated inbound sockets from one address that have not sent a valid HELLO yet. */
  maxPendingPerAddress?: number;
  /** How long the higher index waits without a link before it dials the lower one itself. */
  reverseDialDelayMs?: number;
  logger?: Logger;
}

export interface PeerStats {
  index: number;
  connected: boolean;
  queuedMessages: number;
  queuedBytes: number;
  drops: number;
  droppedBytes: number;
  messagesOut: number;
  /** Times this peer came up (first connect included). */
  connects: number;
  /** Whether we dialed the link that is up (null while down): after a simultaneous open, the lower index's dial. */
  linkOutbound: boolean | null;
}

export interface TransportStats extends Omit<MutableCounters, 'handshakeFailuresByCode'> {
  messagesOut: number;
  drops: number;
  droppedBytes: number;
  handshakeFailuresByCode: Partial<Record<NetErrorCode, number>>;
  /** Inbound sockets in their handshake right now (the slots `maxPendingHandshakes` bounds). */
  pendingHandshakes: number;
  peers: PeerStats[];
}

export const TRANSPORT_DEFAULTS = {
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  maxQueueMessages: 16_384,
  maxQueueBytes: 128 * 1024 * 1024,
  handshakeTimeoutMs: 2_000,
  reconnectBaseMs: 100,
  reconnectMaxMs: 10_000,
  pingIntervalMs: 2_000,
  idleTimeoutMs: 10_000,
  maxPendingHandshakes: 64,
  maxPendingPerAddress: 8,
  reverseDialDelayMs: 1_000,
} as const;

export type ResolvedOptions = Required<Omit<PeerTransportOptions, 'logger' | 'listenHost' | 'listenPort'>>;

export function resolveOptions(opts: PeerTransportOptions): ResolvedOptions {
  const o = { ...TRANSPORT_DEFAULTS, ...stripUndefined(opts) } as ResolvedOptions;
  validate(o);
  return o;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function validate(o: ResolvedOptions): void {
  const intIn = (name: string, v: number, min: number, max: number) => {
    if (!Number.isInteger(v) || v < min || v > max) throw new ConfigError(`network.${name} must be an integer from ${min} to ${max}`, { [name]: v });
  };
  intIn('chainId', o.chainId, 0, 0xffffffff);
  intIn('index', o.index, 0, 0xffffffff);
  intIn('maxFrameBytes', o.maxFrameBytes, 1024, MAX_MAX_FRAME_BYTES);
  intIn('maxQueueMessages', o.maxQueueMessages, 1, 10_000_000);
  intIn('maxQueueBytes', o.maxQueueBytes, 1, 64 * 1024 ** 3);
  intIn('handshakeTimeoutMs', o.handshakeTimeoutMs, 1, 600_000);
  intIn('reconnectBaseMs', o.reconnectBaseMs, 1, 600_000);
  intIn('reconnectMaxMs', o.reconnectMaxMs, o.reconnectBaseMs, 3_600_000);
  intIn('pingIntervalMs', o.pingIntervalMs, 10, 600_000);
  intIn('idleTimeoutMs', o.idleTimeoutMs, o.pingIntervalMs * 2, 3_600_000);
  intIn('maxPendingHandshakes', o.maxPendingHandshakes, 1, 100_000);
  intIn('maxPendingPerAddress', o.maxPendingPerAddress, 1, o.maxPendingHandshakes);
  intIn('reverseDialDelayMs', o.reverseDialDelayMs, 0, 600_000);
  if (!(o.seed instanceof Uint8Array) || o.seed.length !== 32) throw new ConfigError('network.seed must be 32 bytes');
  const idx = new Set<number>();
  const keys = new Set<string>();
  for (const v of o.validators) {
    intIn('validators[].index', v.index, 0, 0xffffffff);
    intIn('validators[].port', v.port, 0, 65535);
    if (!(v.publicKey instanceof Uint8Array) || v.publicKey.length !== 32) throw new ConfigError(`validator ${v.index}: publicKey must be 32 bytes`);
    const hex = Buffer.from(v.publicKey).toString('hex');
    if (idx.has(v.index) || keys.has(hex)) throw new ConfigError(`validator ${v.index}: duplicate index or public key`);
    idx.add(v.index);
    keys.add(hex);
  }
  if (!idx.has(o.index)) throw new ConfigError(`own index ${o.index} is not in the validator set`);
}
