import { HotledgerError } from '../errors.js';

/**
 * Structural bounds on msgpack bytes, checked by one linear walk BEFORE msgpackr sees them.
 * A decoder that trusts length prefixes can be made to allocate for a claimed size (an array of
 * 2^32 entries, a 1.6 GB binary) or to recurse until the stack breaks. This walk allocates only
 * a stack of at most `maxDepth` frames, never follows a length beyond the bytes actually present,
 * and refuses everything the consensus schema never uses: extension types (msgpackr would turn
 * them into Dates, Maps or records), non-string map keys, long strings, long binaries.
 */
export interface ShapeLimits {
  /** Whole message. */
  maxBytes: number;
  /** Nesting of maps and arrays. */
  maxDepth: number;
  /** Entries of any one array. */
  maxArray: number;
  /** Keys of any one map. */
  maxMapKeys: number;
  /** Any one binary (the schema's longest is a 64-byte signature). */
  maxBin: number;
  /** Any one string (field names and message types). */
  maxStr: number;
}

interface Frame {
  /** Items still expected in this container (a map counts keys and values). */
  left: number;
  map: boolean;
}

export function checkShape(bytes: Uint8Array, lim: ShapeLimits): void {
  const end = bytes.length;
  if (end === 0) return reject('empty message');
  if (end > lim.maxBytes) return reject(`message of ${end} bytes exceeds ${lim.maxBytes}`);
  const stack: Frame[] = [];
  let p = 0;
  let roots = 0;
  const need = (k: number): void => {
    if (p + k > end) reject('truncated');
  };
  const uint = (k: number): number => {
    need(k);
    let v = 0;
    for (let i = 0; i < k; i++) v = v * 256 + bytes[p + i]!;
    p += k;
    return v;
  };
  for (;;) {
    // Pop finished containers; a finished root ends the walk.
    while (stack.length > 0 && stack[stack.length - 1]!.left === 0) stack.pop();
    if (stack.length === 0 && roots === 1) break;
    const top = stack[stack.length - 1];
    const isKey = top?.map && top.left % 2 === 0;
    if (top !== undefined) top.left--;
    else roots++;
    need(1);
    const b = bytes[p++]!;
    if (isKey) {
      // Keys are short strings and never __proto__ (which would replace the decoded object's prototype).
      let len: number;
      if (b >= 0xa0 && b <= 0xbf) len = b & 0x1f;
      else if (b === 0xd9) len = uint(1);
      else return reject('map key is not a string');
      if (len > lim.maxStr) return reject('map key too long');
      need(len);
      if (len === 9 && Buffer.from(bytes.buffer, bytes.byteOffset + p, 9).toString('latin1') === '__proto__') return reject('reserved map key');
      p += len;
      continue;
    }
    if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) continue;
    let count = -1;
    let map = false;
    let skip = -1;
    if (b >= 0x80 && b <= 0x8f) [count, map] = [b & 0x0f, true];
    else if (b >= 0x90 && b <= 0x9f) count = b & 0x0f;
    else if (b >= 0xa0 && b <= 0xbf) skip = checkLen(b & 0x1f, lim.maxStr, 'string');
    else
      switch (b) {
        case 0xc4:
          skip = checkLen(uint(1), lim.maxBin, 'binary');
          break;
        case 0xc5:
          skip = checkLen(uint(2), lim.maxBin, 'binary');
          break;
        case 0xc6:
          skip = checkLen(uint(4), lim.maxBin, 'binary');
          break;
        case 0xca:
          skip = 4;
          break;
        case 0xcb:
          skip = 8;
          break;
        case 0xcc:
        case 0xd0:
          skip = 1;
          break;
        case 0xcd:
        case 0xd1:
          skip = 2;
          break;
        case 0xce:
        case 0xd2:
          skip = 4;
          break;
        case 0xcf:
        case 0xd3:
          skip = 8;
          break;
        case 0xd9:
          skip = checkLen(uint(1), lim.maxStr, 'string');
          break;
        case 0xda:
          skip = checkLen(uint(2), lim.maxStr, 'string');
          break;
        case 0xdb:
          skip = checkLen(uint(4), lim.maxStr, 'string');
          break;
        case 0xdc:
          count = uint(2);
          break;
        case 0xdd:
          count = uint(4);
          break;
        case 0xde:
          [count, map] = [uint(2), true];
          break;
        case 0xdf:
          [count, map] = [uint(4), true];
          break;
        default:
          return reject(`msgpack type 0x${b.toString(16)} not allowed`);
      }
    if (skip >= 0) {
      need(skip);
      p += skip;
      continue;
    }
    if (map ? count > lim.maxMapKeys : count > lim.maxArray) return reject(`${map ? 'map' : 'array'} of ${count} entries exceeds ${map ? lim.maxMapKeys : lim.maxArray}`);
    // Every entry takes at least one byte: a count beyond what is left is a lie, whatever the cap.
    if ((map ? 2 : 1) * count > end - p) return reject('count exceeds the bytes present');
    if (count === 0) continue;
    if (stack.length >= lim.maxDepth) return reject('nested too deep');
    stack.push({ left: map ? 2 * count : count, map });
  }
  if (p !== end) reject('trailing bytes');
}

function checkLen(len: number, max: number, what: string): number {
  if (len > max) reject(`${what} of ${len} bytes exceeds ${max}`);
  return len;
}

function reject(reason: string): never {
  throw new HotledgerError('CONSENSUS_INVALID', `malformed consensus message: ${reason}`);
}
