/** Messages between the ledger thread and a shard worker. Block buffers are shared, read-only. */
export type ShardRequest =
  | { type: 'init'; path: string; mapSizeMb: number; capacity: number; shard: number; shards: number }
  /** `txs` holds exactly the block's framed transactions (transfers and contract transactions). */
  /** `offsets`: the block's frames (count + 1 u32), framed once on the ledger thread; `contracts`: how many are contract transactions. */
  | { type: 'debit'; height: number; chainId: number; txs: SharedArrayBuffer; count: number; offsets: SharedArrayBuffer; contracts: number; verified: SharedArrayBuffer }
  /**
   * The transfers' credits, then the contract lane's credits to native accounts (32-byte keys,
   * f64 amounts), each shard taking those of its own accounts.
   */
  | { type: 'credit'; height: number; statuses: SharedArrayBuffer; laneKeys?: SharedArrayBuffer; laneAmounts?: SharedArrayBuffer }
  | { type: 'visible'; height: number }
  | { type: 'close' };

export type ShardReply =
  | { type: 'ready' }
  /** Statuses of this shard's senders' txs; 255 where the tx belongs to another shard. */
  | { type: 'debited'; height: number; statuses: ArrayBuffer }
  /** Accounts this shard changed in the block, and its state-root delta (new leaves - old leaves). */
  | { type: 'credited'; height: number; keys: ArrayBuffer; balances: ArrayBuffer; nonces: ArrayBuffer; leaves: ArrayBuffer; delta: ArrayBuffer }
  | { type: 'closed' }
  | { type: 'error'; message: string };

export const NOT_MINE = 255;
