// An escrow that releases its funds to the payee once both approvers approved.
// init(payee ‖ approverA ‖ approverB, 3 × 32 bytes); deposit() with an amount; approve() by an
// approver; when both approved, the contract's whole balance goes to the payee.
import { balance, bytesEqual, caller, emit, fail, input, outputU64, read, readU64, transfer, value, write, writeU64 } from "./lib/hl";

function k(s: string): Uint8Array {
  return Uint8Array.wrap(String.UTF8.encode(s));
}

export function init(): void {
  const args = input();
  if (args.length != 96) fail("init expects payee, approver A and approver B (3 x 32 bytes)");
  write(k("payee"), args.subarray(0, 32));
  write(k("a"), args.subarray(32, 64));
  write(k("b"), args.subarray(64, 96));
}

/** Adds the call's amount to the escrow. */
export function deposit(): void {
  if (readU64(k("released")) != 0) fail("already released");
  const v = value();
  if (v == 0) fail("deposit needs an amount");
  writeU64(k("deposited"), readU64(k("deposited")) + v);
  emit("deposit", caller());
}

export function approve(): void {
  if (readU64(k("released")) != 0) fail("already released");
  const who = caller();
  const a = read(k("a"))!;
  const b = read(k("b"))!;
  if (bytesEqual(who, a)) writeU64(k("approved_a"), 1);
  else if (bytesEqual(who, b)) writeU64(k("approved_b"), 1);
  else fail("caller is not an approver");
  emit("approve", who);
  if (readU64(k("approved_a")) == 1 && readU64(k("approved_b")) == 1) {
    const payee = read(k("payee"))!;
    const amount = balance();
    if (amount > 0 && transfer(payee, amount) != 0) fail("release transfer failed");
    writeU64(k("released"), 1);
    const ev = new Uint8Array(8);
    store<u64>(ev.dataStart, amount);
    emit("released", ev);
  }
}

/** released() -> u64 (1 once the funds went to the payee) */
export function released(): void {
  outputU64(readU64(k("released")));
}
