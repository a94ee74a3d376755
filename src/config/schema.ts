import { z } from 'zod';
import { maxBatchBytes } from '../tx/frames.js';
import { MAX_AMOUNT, TX_SIZE } from '../tx/layout.js';

/** Integer in [min, max]; every failure says the allowed range, so the loader can name it. */
function int(min: number, max: number) {
  const error = `must be an integer from ${min} to ${max}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
}

const hex = (bytes: number) => z.string().regex(new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`), { error: `must be ${bytes * 2} hex digits` });

export const ROLES = ['validator', 'business', 'slim'] as const;
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const ValidatorSchema = z.object({
  id: z.string().min(1),
  publicKey: hex(32),
  host: z.string().default('127.0.0.1'),
  port: int(1, 65535),
});

export const ConfigSchema = z
  .object({
    node: z.object({
      id: z.string().min(1).max(64).default('node-0'),
      role: z.enum(ROLES, { error: `must be one of ${ROLES.join(', ')}` }).default('validator'),
      /** Default `data/<node.id>`: two nodes with different ids never share a data dir by default. */
      dataDir: z.string().min(1).optional(),
      /** Key file of this node's validator identity (votes, proposals, peer handshake). */
      keyFile: z.string().optional(),
    }),
    chain: z.object({
      chainId: int(1, 0xffffffff).default(1),
      genesis: z
        .object({
          accounts: z.array(z.object({ publicKey: hex(32), balance: int(0, MAX_AMOUNT) })).default([]),
          /** Devnet: derive this many funded accounts from public, insecure seeds and write their key files. */
          devnetAccounts: int(0, 100_000).default(0),
          devnetBalance: int(1, MAX_AMOUNT).default(1_000_000_000),
        })
        .prefault({}),
    }),
    pipeline: z.object({
      threads: int(1, 64),
      batchSize: int(1, 100_000).default(100_000),
      batchTimeoutMs: int(1, 10_000).default(20),
      /** Transactions per verification task sent to the pool. */
      chunkSize: int(64, 100_000).default(4096),
      /** Execution shards (one worker each when > 1); 0 = as many as `threads`. */
      executionShards: int(0, 64).default(0),
      /** Batches sealed but not yet durable; the batcher waits beyond this (back-pressure). */
      maxInflightBatches: int(1, 64).default(4),
    }),
    mempool: z.object({
      capacity: int(1, 10_000_000).default(1_000_000),
      maxPerSender: int(1, 1_000_000).default(10_000),
      /** Highest accepted nonce is committed + maxNonceGap. */
      maxNonceGap: int(1, 1_000_000).default(100_000),
      /**
       * Transactions received and waiting for signature verification (they enter the mempool only
       * once verified); beyond it a submission is refused with VERIFY_QUEUE_FULL (503).
       */
      maxUnverified: int(1, 10_000_000).default(200_000),
    }),
    storage: z.object({
      cacheSizeMb: int(1, 65_536).default(256),
      mapSizeMb: int(64, 1_048_576).default(65_536),
    }),
    consensus: z.object({
      timeoutMs: int(50, 600_000).default(1_000),
      heartbeatMs: int(10, 60_000).default(250),
      /** Committed blocks kept in memory for peers' backward sync; older ones are served from LMDB. */
      retainCommitted: int(16, 1_000_000).default(1_000),
      /**
       * Committed consensus blocks kept in the consensus LMDB store for lagging peers' forward sync;
       * older heights are deleted as new ones commit. Default: about 2.9 days at one block per 250 ms.
       */
      storeRetainBlocks: int(1_024, 1_000_000_000).default(1_000_000),
      /** Per peer: its batches being verified or held unordered, and their megabytes; beyond, new ones are dropped. */
      maxPeerBatches: int(1, 100_000).default(64),
      maxPeerBatchMb: int(1, 65_536).default(128),
      /** Batch and sync requests one peer may make per second (burst twice that); beyond, they are dropped. */
      peerRequestsPerSec: int(1, 100_000).default(50),
      /** Consensus messages (proposals, votes, timeouts, sync) one peer may send per second (burst twice that); beyond, dropped. */
      peerMessagesPerSec: int(10, 1_000_000).default(2_000),
      validators: z.array(ValidatorSchema).default([]),
      /**
       * Non-voting members (business and slim nodes): every validator accepts their authenticated
       * links, serves them certified commits and, from business nodes, takes batches. Member index
       * = validators' count + position here, the same on every node.
       */
      followers: z.array(ValidatorSchema).default([]),
    }),
    api: z.object({
      host: z.string().default('127.0.0.1'),
      port: int(0, 65535).default(9003),
      maxBodyBytes: int(1024, 256 * 1024 * 1024).default(32 * 1024 * 1024),
      /** Per-WebSocket send buffer beyond which a subscriber is dropped. */
      wsMaxBackpressureBytes: int(1024, 1024 * 1024 * 1024).default(4 * 1024 * 1024),
      // Per-client limits (docs/api.md "Threat model and limits"); a client is an IPv4 address or an IPv6 /64.
      /** Requests (HTTP, and WebSocket messages) per second per client, and the burst; beyond, 429 RATE_LIMITED. */
      rateLimitPerSec: int(1, 10_000_000).default(1_000),
      rateLimitBurst: int(1, 10_000_000).default(2_000),
      /** Transactions per second per client (HTTP and WebSocket), and the burst: a batch costs one token per transaction. */
      txRateLimitPerSec: int(1, 10_000_000).default(100_000),
      txRateLimitBurst: int(1, 100_000_000).default(200_000),
      /** Health probes (/q/health*) per second per client, in a bucket of their own (burst = the same number). */
      healthRateLimitPerSec: int(1, 1_000_000).default(100),
      /** Request bodies being read at once, in all and per client; beyond, 503 OVERLOADED / 429 RATE_LIMITED. */
      maxConcurrentBodies: int(1, 100_000).default(256),
      maxConcurrentBodiesPerAddress: int(1, 100_000).default(32),
      /** Body bytes buffered across all requests being read; beyond, 503 OVERLOADED. */
      maxBufferedBodyBytes: int(1024, 64 * 1024 * 1024 * 1024).default(256 * 1024 * 1024),
      /** A request body must arrive whole within this; else 408 REQUEST_TIMEOUT and the connection is closed. */
      bodyTimeoutMs: int(100, 600_000).default(30_000),
      /** Transfers in one JSON submission (converted off the main thread). */
      maxJsonTxs: int(1, 1_000_000).default(100_000),
      /** Open WebSockets, in all (beyond: 503) and per client (beyond: 429), refused before the upgrade. */
      wsMaxConnections: int(1, 1_000_000).default(10_000),
      wsMaxConnectionsPerAddress: int(1, 1_000_000).default(64),
      /** Transaction ids one WebSocket may watch at a time. */
      wsMaxWatchedIds: int(1, 10_000_000).default(10_000),
      /** Rate-limited messages one WebSocket may have refused in a burst (refilled 1 per second); beyond, closed 1008. */
      wsMaxRefusals: int(1, 1_000_000).default(32),
      /** Browser origins allowed to open a WebSocket (exact `scheme://host[:port]`, or "*"); no Origin header is always allowed. */
      wsAllowedOrigins: z.array(z.string().min(1).max(512)).max(1_000).default([]),
    }),
    /** Validator peer transport limits (docs/network.md "Threat model and limits"). */
    network: z
      .object({
        /** Whole peer handshake, TCP connect included: how long a stranger can hold a pending slot. */
        handshakeTimeoutMs: int(100, 60_000).default(2_000),
        /** Unauthenticated inbound peer sockets at once; beyond, the oldest is evicted. */
        maxPendingHandshakes: int(1, 100_000).default(64),
        /** Of those, sockets from one address that have not sent a valid HELLO yet; beyond, that address's oldest is evicted. */
        maxPendingPerAddress: int(1, 100_000).default(8),
        /** Largest peer frame body (a sealed message plus its 16-byte tag); a message must fit in one frame. */
        maxFrameBytes: int(1024 * 1024, 1024 * 1024 * 1024).default(64 * 1024 * 1024),
      })
      .prefault({}),
    log: z.object({
      level: z.enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` }).default('info'),
    }),
  })
  .superRefine((c, ctx) => {
    // A role the node cannot fill is refused rather than run as something else under its name.
    const inValidators = c.consensus.validators.some((v) => v.id === c.node.id);
    const inFollowers = c.consensus.followers.some((v) => v.id === c.node.id);
    if (c.node.role === 'validator' && inFollowers) {
      ctx.addIssue({ code: 'custom', path: ['node', 'role'], message: `validator, but "${c.node.id}" is listed in consensus.followers (a follower's role is business or slim)` });
    }
    if (c.node.role !== 'validator') {
      if (c.consensus.validators.length === 0) {
        ctx.addIssue({ code: 'custom', path: ['node', 'role'], message: `${c.node.role} follows a validator set: consensus.validators must not be empty` });
      } else if (inValidators) {
        ctx.addIssue({
          code: 'custom',
          path: ['node', 'role'],
          message: `${c.node.role}, but "${c.node.id}" is listed in consensus.validators (a ${c.node.role} node never votes)`,
        });
      } else if (!inFollowers) {
        ctx.addIssue({
          code: 'custom',
          path: ['node', 'role'],
          message: `${c.node.role}: "${c.node.id}" must be listed in consensus.followers (validators accept links only from members)`,
        });
      }
    }
    // A body the API accepts must fit the buffered-bytes budget and, as transactions, the tx burst.
    if (c.api.maxBufferedBodyBytes < c.api.maxBodyBytes) {
      ctx.addIssue({ code: 'custom', path: ['api', 'maxBufferedBodyBytes'], message: `must be at least api.maxBodyBytes (${c.api.maxBodyBytes})` });
    }
    const txsPerBody = Math.floor(c.api.maxBodyBytes / TX_SIZE);
    if (c.api.txRateLimitBurst < txsPerBody) {
      ctx.addIssue({
        code: 'custom',
        path: ['api', 'txRateLimitBurst'],
        message: `must be at least api.maxBodyBytes / ${TX_SIZE} (${txsPerBody}): a full binary batch must fit the burst`,
      });
    }
    if (c.network.maxPendingPerAddress > c.network.maxPendingHandshakes) {
      ctx.addIssue({ code: 'custom', path: ['network', 'maxPendingPerAddress'], message: `must be at most network.maxPendingHandshakes (${c.network.maxPendingHandshakes})` });
    }
    // A batch travels to validators as one message: a full one must fit in one frame.
    const fullBatchBytes = maxBatchBytes(c.pipeline.batchSize) + 65_536;
    if (c.network.maxFrameBytes < fullBatchBytes) {
      ctx.addIssue({
        code: 'custom',
        path: ['network', 'maxFrameBytes'],
        message: `must be at least pipeline.batchSize × ${TX_SIZE} (or one largest contract transaction) + 65536 (${fullBatchBytes}): a full batch must fit in one frame`,
      });
    }
    if (c.consensus.heartbeatMs >= c.consensus.timeoutMs) {
      ctx.addIssue({
        code: 'custom',
        path: ['consensus', 'heartbeatMs'],
        message: `must be below consensus.timeoutMs (${c.consensus.timeoutMs})`,
      });
    }
    // A duplicate would leave the genesis state (and so the state root) up to iteration order.
    const seenAccounts = new Set<string>();
    c.chain.genesis.accounts.forEach((a, i) => {
      const k = a.publicKey.toLowerCase();
      if (seenAccounts.has(k)) ctx.addIssue({ code: 'custom', path: ['chain', 'genesis', 'accounts', i, 'publicKey'], message: 'duplicate genesis account' });
      seenAccounts.add(k);
    });
    const seenIds = new Set<string>();
    const seenKeys = new Set<string>();
    for (const list of ['validators', 'followers'] as const) {
      c.consensus[list].forEach((v, i) => {
        if (seenIds.has(v.id)) ctx.addIssue({ code: 'custom', path: ['consensus', list, i, 'id'], message: 'duplicate member id (validators and followers share one id space)' });
        const k = v.publicKey.toLowerCase();
        if (seenKeys.has(k)) ctx.addIssue({ code: 'custom', path: ['consensus', list, i, 'publicKey'], message: 'duplicate member public key' });
        seenIds.add(v.id);
        seenKeys.add(k);
      });
    }
    const supply = c.chain.genesis.accounts.reduce((s, a) => s + a.balance, 0) + c.chain.genesis.devnetAccounts * c.chain.genesis.devnetBalance;
    if (supply > MAX_AMOUNT) {
      ctx.addIssue({ code: 'custom', path: ['chain', 'genesis'], message: `total genesis supply must be at most ${MAX_AMOUNT}` });
    }
  })
  .transform((c) => ({ ...c, node: { ...c.node, dataDir: c.node.dataDir ?? defaultDataDir(c.node.id) } }));

/** `data/<node.id>`, with characters that could leave `data/` (or confuse a shell) replaced by `_`. */
export function defaultDataDir(nodeId: string): string {
  const safe = nodeId.replace(/[^A-Za-z0-9._-]/g, '_');
  return `data/${safe === '.' || safe === '..' ? safe.replace(/\./g, '_') : safe}`;
}

export type Config = z.infer<typeof ConfigSchema>;
export type ConfigInput = z.input<typeof ConfigSchema>;
export type ValidatorInfo = z.infer<typeof ValidatorSchema>;
