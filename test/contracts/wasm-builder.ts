/** Hand-assembled WebAssembly modules for the deploy-validation tests: exact bytes, no toolchain. */
export const I32 = 0x7f;
export const I64 = 0x7e;
export const F32 = 0x7d;
export const F64 = 0x7c;
export const V128 = 0x7b;

export function leb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

export function str(s: string): number[] {
  const b = [...Buffer.from(s, 'utf8')];
  return [...leb(b.length), ...b];
}

export function vec(items: number[][]): number[] {
  return [...leb(items.length), ...items.flat()];
}

export function section(id: number, body: number[]): number[] {
  return [id, ...leb(body.length), ...body];
}

export function module(...sections: number[][]): Uint8Array {
  return Uint8Array.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, ...sections.flat()]);
}

export const types = (...ts: [number[], number[]][]): number[] => section(1, vec(ts.map(([p, r]) => [0x60, ...vec(p.map((x) => [x])), ...vec(r.map((x) => [x]))])));
export const imports = (...is: [string, string, number][]): number[] => section(2, vec(is.map(([m, n, t]) => [...str(m), ...str(n), 0x00, ...leb(t)])));
export const funcs = (...typeIdx: number[]): number[] => section(3, vec(typeIdx.map((t) => leb(t))));
/** flags 0: min only; 1: min and max; 3: shared. */
export const memory = (min: number, max?: number, flags = max === undefined ? 0 : 1): number[] => section(5, vec([[flags, ...leb(min), ...(max === undefined ? [] : leb(max))]]));
export const table = (min: number): number[] => section(4, vec([[0x70, 0x00, ...leb(min)]]));
export const exports = (...es: [string, number, number][]): number[] => section(7, vec(es.map(([n, k, i]) => [...str(n), k, ...leb(i)])));
/** Each body: [locals as [count, type] pairs, instructions without the final `end`]. */
export const code = (...bodies: [[number, number][], number[]][]): number[] =>
  section(
    10,
    vec(
      bodies.map(([locals, instrs]) => {
        const b = [...vec(locals.map(([c, t]) => [...leb(c), t])), ...instrs, 0x0b];
        return [...leb(b.length), ...b];
      }),
    ),
  );
export const custom = (name: string, payload: number[]): number[] => section(0, [...str(name), ...payload]);

/** A module with one memory exported as "memory" and one exported `run: () -> ()` of `body`. */
export function withRun(body: number[], locals: [number, number][] = [], extraTypes: [number[], number[]][] = []): Uint8Array {
  return module(types([[], []], ...extraTypes), funcs(0), memory(1), exports(['memory', 2, 0], ['run', 0, 0]), code([locals, body]));
}
