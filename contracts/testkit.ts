// Not an example: the behaviours test/contracts/ checks the runtime against (traps, gas, depth,
// floats). Compiled with the examples so the tests exercise real compiler output.
import { blockHeight, blockTime, caller, input, output, outputU64, readU64, selfAddress, writeU64 } from "./lib/hl";

function k(s: string): Uint8Array {
  return Uint8Array.wrap(String.UTF8.encode(s));
}

/** Writes a counter, then loops for ever: must end OUT_OF_GAS with the write reverted. */
export function write_then_spin(): void {
  writeU64(k("counter"), readU64(k("counter")) + 1);
  let i: u64 = 0;
  while (i != u64.MAX_VALUE) i = i * 3 + 1 + blockHeight() * 0;
}

/** Writes, then traps (unreachable): the write must be reverted. */
export function write_then_trap(): void {
  writeU64(k("counter"), readU64(k("counter")) + 1);
  unreachable();
}

export function increment(): void {
  const n = readU64(k("counter")) + 1;
  writeU64(k("counter"), n);
  outputU64(n);
}

function depth(n: u32): u32 {
  if (n == 0) return 0;
  return depth(n - 1) + 1;
}

/** Recurses as deep as the u32 argument says. */
export function recurse(): void {
  const args = input();
  outputU64(<u64>depth(load<u32>(args.dataStart)));
}

/** Stores the bits of 0/0 (a NaN): canonicalised, they are 0x7fc00000 on every machine. */
export function nan_bits(): void {
  const args = input();
  const zero = load<f32>(args.dataStart); // 0.0 from the caller, so the division is not folded
  const nan = zero / zero;
  const out = new Uint8Array(4);
  store<f32>(out.dataStart, nan);
  output(out);
}

/** Context the host gives: caller, own address, height, time. */
export function context(): void {
  const out = new Uint8Array(80);
  out.set(caller(), 0);
  out.set(selfAddress(), 32);
  store<u64>(out.dataStart + 64, blockHeight());
  store<u64>(out.dataStart + 72, blockTime());
  output(out);
}

/** Grows memory past the bound: memory.grow answers -1, deterministically. */
export function grow(): void {
  outputU64(<u64>(memory.grow(100) as i64 + 1));
}

/** A loop with no host call: only the gas charged at its head can stop it. */
export function spin(): void {
  writeU64(k("counter"), readU64(k("counter")) + 1);
  let i: u32 = 0;
  while (true) {
    store<u32>(8, i);
    i++;
  }
}

/** Runs a u32 count of loop iterations and returns a value computed from them. */
export function burn(): void {
  const args = input();
  const n = load<u32>(args.dataStart);
  let x: u64 = 0;
  for (let i: u32 = 0; i < n; i++) x = x * 31 + <u64>i;
  outputU64(x);
}
