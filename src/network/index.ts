export { PeerTransport, TRANSPORT_DEFAULTS } from './transport.js';
export type { PeerInfo, PeerTransportOptions, PeerStats, TransportStats } from './transport.js';
export { NetworkError, NET_ERROR_CODES, isNetErrorCode } from './errors.js';
export type { NetErrorCode } from './errors.js';
export { PROTOCOL_VERSION, HANDSHAKE_TAG } from './handshake.js';
export { DEFAULT_MAX_FRAME_BYTES } from './frame.js';
export { AEAD_TAG_BYTES } from './channel.js';
