// The part of the WebAssembly JS API the sandbox uses. Node provides it at run time; TypeScript
// only declares it in its DOM and webworker libs, which this Node codebase does not load.
declare namespace WebAssembly {
  interface ModuleImportDescriptor {
    readonly module: string;
    readonly name: string;
    readonly kind: "function" | "table" | "memory" | "global" | "tag";
  }
  interface ModuleExportDescriptor {
    readonly name: string;
    readonly kind: "function" | "table" | "memory" | "global" | "tag";
  }
  class Memory {
    constructor(descriptor: { initial: number; maximum?: number });
    readonly buffer: ArrayBuffer;
  }
  class Instance {
    constructor(module: Module, imports?: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
  class Module {
    constructor(bytes: BufferSource);
    static imports(module: Module): ModuleImportDescriptor[];
    static exports(module: Module): ModuleExportDescriptor[];
  }
}
