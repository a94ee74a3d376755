/**
 * The part of the WebAssembly JS API the contract runtime uses. The project compiles with
 * lib ES2023 and no DOM, and @types/node 20 does not declare the WebAssembly global.
 */
declare namespace WebAssembly {
  type ImportValue = ((...args: never[]) => unknown) | Global | Memory;
  type Imports = Record<string, Record<string, ImportValue>>;
  type ExportValue = ((...args: unknown[]) => unknown) | Global | Memory | Table;
  type Exports = Record<string, ExportValue>;
  class Module {
    constructor(bytes: Uint8Array);
  }
  class Instance {
    constructor(module: Module, imports?: Imports);
    readonly exports: Exports;
  }
  class Memory {
    constructor(descriptor: { initial: number; maximum?: number });
    readonly buffer: ArrayBuffer;
  }
  class Table {
    readonly length: number;
  }
  class Global {
    value: number | bigint;
  }
  class RuntimeError extends Error {}
  class CompileError extends Error {}
  class LinkError extends Error {}
  function validate(bytes: Uint8Array): boolean;
}
