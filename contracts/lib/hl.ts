// Bindings to the hotledger host functions (src/contracts/host-abi.ts), for AssemblyScript contracts.
@external("hl", "storage_read") declare function storage_read(kp: usize, kl: u32, vp: usize, vcap: u32): i32;
@external("hl", "storage_write") declare function storage_write(kp: usize, kl: u32, vp: usize, vl: u32): void;
@external("hl", "storage_remove") declare function storage_remove(kp: usize, kl: u32): void;
@external("hl", "caller") declare function host_caller(out: usize): void;
@external("hl", "self_address") declare function host_self(out: usize): void;
@external("hl", "value") declare function host_value(): u64;
@external("hl", "balance") declare function host_balance(): u64;
@external("hl", "block_height") declare function host_height(): u64;
@external("hl", "block_time") declare function host_time(): u64;
@external("hl", "transfer") declare function host_transfer(to: usize, amount: u64): i32;
@external("hl", "emit") declare function host_emit(tp: usize, tl: u32, dp: usize, dl: u32): void;
@external("hl", "input_size") declare function input_size(): u32;
@external("hl", "input_read") declare function input_read(out: usize): void;
@external("hl", "output") declare function host_output(p: usize, l: u32): void;
@external("hl", "abort") declare function host_abort(p: usize, l: u32): void;

export const ADDRESS_SIZE = 32;

/** The call's argument bytes. */
export function input(): Uint8Array {
  const b = new Uint8Array(input_size());
  input_read(b.dataStart);
  return b;
}

export function caller(): Uint8Array {
  const b = new Uint8Array(ADDRESS_SIZE);
  host_caller(b.dataStart);
  return b;
}

export function selfAddress(): Uint8Array {
  const b = new Uint8Array(ADDRESS_SIZE);
  host_self(b.dataStart);
  return b;
}

export function value(): u64 {
  return host_value();
}

export function balance(): u64 {
  return host_balance();
}

export function blockHeight(): u64 {
  return host_height();
}

export function blockTime(): u64 {
  return host_time();
}

/** 0 done, 1 insufficient contract balance, 2 bad amount. */
export function transfer(to: Uint8Array, amount: u64): i32 {
  return host_transfer(to.dataStart, amount);
}

export function read(key: Uint8Array): Uint8Array | null {
  const n = storage_read(key.dataStart, key.length, 0, 0);
  if (n < 0) return null;
  const v = new Uint8Array(n);
  storage_read(key.dataStart, key.length, v.dataStart, n);
  return v;
}

export function write(key: Uint8Array, val: Uint8Array): void {
  storage_write(key.dataStart, key.length, val.dataStart, val.length);
}

export function remove(key: Uint8Array): void {
  storage_remove(key.dataStart, key.length);
}

export function readU64(key: Uint8Array): u64 {
  const v = read(key);
  if (v == null || v.length != 8) return 0;
  return load<u64>(v.dataStart);
}

export function writeU64(key: Uint8Array, x: u64): void {
  const v = new Uint8Array(8);
  store<u64>(v.dataStart, x);
  write(key, v);
}

export function emit(topic: string, data: Uint8Array): void {
  const t = Uint8Array.wrap(String.UTF8.encode(topic));
  host_emit(t.dataStart, t.length, data.dataStart, data.length);
}

export function output(data: Uint8Array): void {
  host_output(data.dataStart, data.length);
}

export function outputU64(x: u64): void {
  const v = new Uint8Array(8);
  store<u64>(v.dataStart, x);
  output(v);
}

/** Reverts the call with status CONTRACT_ABORT and this message. */
export function fail(message: string): void {
  const m = Uint8Array.wrap(String.UTF8.encode(message));
  host_abort(m.dataStart, m.length);
  unreachable();
}

/** key = prefix byte ‖ bytes */
export function key(prefix: u8, bytes: Uint8Array): Uint8Array {
  const k = new Uint8Array(1 + bytes.length);
  k[0] = prefix;
  k.set(bytes, 1);
  return k;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): bool {
  if (a.length != b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] != b[i]) return false;
  return true;
}
