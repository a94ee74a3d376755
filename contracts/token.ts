// A fungible token. Balances live in the contract's own storage under "b" ‖ account (u64 LE);
// the total supply under "s". Arguments are raw little-endian bytes (docs/contracts in README).
import { caller, emit, fail, input, key, outputU64, readU64, writeU64 } from "./lib/hl";

const SUPPLY_KEY = Uint8Array.wrap(String.UTF8.encode("s"));
const BALANCE: u8 = 0x62; // 'b'

function balanceKey(account: Uint8Array): Uint8Array {
  return key(BALANCE, account);
}

/** init(supply: u64): the deployer receives the whole supply. */
export function init(): void {
  const args = input();
  if (args.length != 8) fail("init expects a u64 supply");
  const supply = load<u64>(args.dataStart);
  writeU64(SUPPLY_KEY, supply);
  writeU64(balanceKey(caller()), supply);
}

/** transfer(to: 32 bytes, amount: u64) */
export function transfer(): void {
  const args = input();
  if (args.length != 40) fail("transfer expects to (32 bytes) and amount (u64)");
  const to = args.subarray(0, 32);
  const amount = load<u64>(args.dataStart + 32);
  const from = caller();
  const fromKey = balanceKey(from);
  const fromBalance = readU64(fromKey);
  if (amount == 0) fail("amount must be at least 1");
  if (fromBalance < amount) fail("insufficient token balance");
  writeU64(fromKey, fromBalance - amount);
  const toKey = balanceKey(to);
  writeU64(toKey, readU64(toKey) + amount);
  const ev = new Uint8Array(72);
  ev.set(from, 0);
  ev.set(to, 32);
  store<u64>(ev.dataStart + 64, amount);
  emit("transfer", ev);
}

/** balance_of(account: 32 bytes) -> u64 */
export function balance_of(): void {
  const args = input();
  if (args.length != 32) fail("balance_of expects an account (32 bytes)");
  outputU64(readU64(balanceKey(args)));
}

/** total_supply() -> u64 */
export function total_supply(): void {
  outputU64(readU64(SUPPLY_KEY));
}
