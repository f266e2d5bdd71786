// Runs inputs through one service instance. Self-contained on purpose (it uses no imports and no
// closure over this module): the worker isolation mode runs it from its source text.

export type ServiceResult =
  | { readonly ok: true; readonly output: Uint8Array }
  | { readonly ok: false; readonly error: string };

export interface Executor {
  runBatch(inputs: readonly Uint8Array[]): ServiceResult[];
  /** Starts over from a fresh instance and memory (after a trap or an interrupted run). */
  reset(): void;
}

export function createExecutor(module: WebAssembly.Module, maxPages: number): Executor {
  type Exports = { alloc_input(len: number): number; process(ptr: number, len: number): bigint };
  let memory: WebAssembly.Memory;
  let exports: Exports;

  // AssemblyScript strings: UTF-16, byte length stored just before the pointer.
  const readString = (ptr: number): string => {
    if (!ptr) return "?";
    try {
      const len = new Uint32Array(memory.buffer, ptr - 4, 1)[0] ?? 0;
      return new TextDecoder("utf-16le").decode(new Uint8Array(memory.buffer, ptr, Math.min(len, 512)));
    } catch {
      return "?";
    }
  };

  const instantiate = () => {
    memory = new WebAssembly.Memory({ initial: 1, maximum: maxPages });
    const instance = new WebAssembly.Instance(module, {
      env: {
        memory,
        abort(msg: number, file: number, line: number, column: number) {
          throw new Error(`service aborted: ${readString(msg)} at ${readString(file)}:${line}:${column}`);
        },
      },
    });
    exports = instance.exports as unknown as Exports;
  };

  const runOne = (input: Uint8Array): ServiceResult => {
    try {
      const ptr = exports.alloc_input(input.length) >>> 0;
      new Uint8Array(memory.buffer, ptr, input.length).set(input);
      const packed = BigInt.asUintN(64, BigInt(exports.process(ptr, input.length)));
      const outPtr = Number(packed >> 32n);
      const outLen = Number(packed & 0xffffffffn);
      if (outPtr + outLen > memory.buffer.byteLength)
        throw new Error("service returned an output outside its memory");
      return { ok: true, output: new Uint8Array(memory.buffer.slice(outPtr, outPtr + outLen)) };
    } catch (e) {
      // A failed memory.grow surfaces as a plain trap (allocators call unreachable). Allocators grow
      // geometrically, so the grow that fails is asked for past half the cap: a trap with memory
      // beyond half its cap is reported as exhaustion.
      const exhausted = memory.buffer.byteLength > (maxPages * 65_536) / 2;
      const message = e instanceof Error ? e.message : String(e);
      instantiate(); // a failed instance may be left inconsistent: start from a fresh one
      return {
        ok: false,
        error: exhausted ? `memory cap exceeded (${maxPages * 64} KiB)` : `trap: ${message}`,
      };
    }
  };

  instantiate();
  return { runBatch: (inputs) => inputs.map(runOne), reset: instantiate };
}
