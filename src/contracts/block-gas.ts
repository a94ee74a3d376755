import { BLOCK_GAS_LIMIT } from './limits.js';

/**
 * The block gas rule for whoever builds a block: contract transactions are admitted to a block
 * while the sum of their gas *limits* stays within BLOCK_GAS_LIMIT. Limits, not gas used, so the
 * decision is made before anything runs and every validator can check a proposed block the same
 * way without executing it first.
 */
export class BlockGasMeter {
  private reserved = 0;
  constructor(readonly limit = BLOCK_GAS_LIMIT) {}

  /** Reserves `gasLimit` for one transaction; false (nothing reserved) when the block is full. */
  tryReserve(gasLimit: number): boolean {
    if (this.reserved + gasLimit > this.limit) return false;
    this.reserved += gasLimit;
    return true;
  }

  get used(): number {
    return this.reserved;
  }
}
