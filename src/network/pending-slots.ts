import type { Connection } from './connection.js';
import { NetworkError } from './errors.js';

/**
 * An anonymous socket younger than this is not evicted for its address's cap: when several honest
 * validators behind one address (loopback, a NAT) dial at once, their sockets are accepted in one
 * burst before any HELLO is read, and must not evict each other. Stale ones (strangers) still go, and
 * the global cap holds regardless of age.
 */
export const ANONYMOUS_GRACE_MS = 250;

export interface PendingLimits {
  /** Anonymous (no valid HELLO yet) inbound handshakes from one source address. */
  perAddress: number;
  /** All inbound handshakes, anonymous or claimed. */
  global: number;
  /** Inbound handshakes whose HELLO claims one validator index. */
  perClaimedPeer: number;
}

/**
 * Who holds the listener's unauthenticated slots, and who leaves when a newcomer needs one.
 *
 * A newcomer is never refused while a slot is held by a socket older than it: the oldest goes
 * instead. An honest validator sends its HELLO the moment TCP is up and its AUTH one round trip
 * later, so its handshake is the youngest in the set and done within milliseconds; a stranger
 * holding sockets open (idle, or trickling a HELLO) is always older, so it is the one evicted. A
 * socket that presented a valid HELLO (a known validator's key and index) is "claimed" and only
 * evicted by a newcomer claiming the same validator, or when every slot is claimed: a stranger
 * who replays a validator's public HELLO must win a race of one round trip per eviction.
 * Outbound dials never take a slot here, and both sides dial, so a full listener never isolates
 * a validator on its own.
 */
export class PendingSlots {
  constructor(
    private readonly conns: ReadonlySet<Connection>,
    private readonly limits: PendingLimits,
  ) {}

  count(): number {
    let n = 0;
    for (const c of this.conns) if (c.isPendingInbound) n++;
    return n;
  }

  /** Evicts what a new socket from `address` displaces; false only if nothing can be evicted. */
  makeRoomForNewSocket(address: string): boolean {
    const pending = [...this.conns].filter((c) => c.isPendingInbound);
    const anonymous = pending.filter((c) => !c.claimed);
    const sameAddress = anonymous.filter((c) => c.remoteAddress === address);
    const staleBefore = Date.now() - ANONYMOUS_GRACE_MS;
    let pendingCount = pending.length;
    while (sameAddress.length >= this.limits.perAddress) {
      const o = oldest(sameAddress)!;
      if (o.createdAt > staleBefore) break;
      sameAddress.splice(sameAddress.indexOf(o), 1);
      anonymous.splice(anonymous.indexOf(o), 1);
      pendingCount--;
      evict(o, `more than ${this.limits.perAddress} pending handshakes from ${address}`);
    }
    if (pendingCount < this.limits.global) return true;
    // Only anonymous sockets were evicted above, so when none is left `pending` is all claimed ones.
    const victim = anonymous.length > 0 ? oldest(anonymous.filter((c) => c.remoteAddress === busiestAddress(anonymous))) : oldest(pending);
    if (!victim) return false;
    evict(victim, `all ${this.limits.global} pending handshake slots are taken`);
    return true;
  }

  /** Called when `c`'s HELLO claiming `index` passed its checks, before `c` counts as claimed. */
  makeRoomForClaim(c: Connection, index: number): void {
    const rivals = [...this.conns].filter((x) => x !== c && x.isPendingInbound && x.claimed && x.peerIndex === index);
    while (rivals.length >= this.limits.perClaimedPeer) {
      const v = oldest(rivals)!;
      rivals.splice(rivals.indexOf(v), 1);
      evict(v, `more than ${this.limits.perClaimedPeer} pending handshakes claim validator ${index}`);
    }
  }
}

function evict(c: Connection, why: string): void {
  // No CLOSE frame and no linger: under a flood, lingering sockets would pile up file descriptors.
  c.close(new NetworkError('TOO_MANY_PENDING', `evicted: ${why}`, c.peerIndex, { evicted: true }), false);
}

function oldest(cs: readonly Connection[]): Connection | undefined {
  let o: Connection | undefined;
  for (const c of cs) if (!o || c.serial < o.serial) o = c;
  return o;
}

function busiestAddress(cs: readonly Connection[]): string | undefined {
  const n = new Map<string, number>();
  let best: string | undefined;
  for (const c of cs) {
    const k = (n.get(c.remoteAddress) ?? 0) + 1;
    n.set(c.remoteAddress, k);
    if (best === undefined || k > n.get(best)!) best = c.remoteAddress;
  }
  return best;
}
