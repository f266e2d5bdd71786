// The sandbox worker's code, as a string run with `new Worker(source, { eval: true })`, so the
// runtime still bundles into one self-contained file. Plain JavaScript (CommonJS).
export const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { module, maxPages } = workerData;
let memory, exports;

function instantiate() {
  memory = new WebAssembly.Memory({ initial: 1, maximum: maxPages });
  const instance = new WebAssembly.Instance(module, {
    env: {
      memory,
      abort(msg, file, line, column) {
        throw new Error("service aborted: " + readString(msg) + " at " + readString(file) + ":" + line + ":" + column);
      },
    },
  });
  exports = instance.exports;
}

// AssemblyScript strings: UTF-16, byte length stored just before the pointer.
function readString(ptr) {
  if (!ptr) return "?";
  try {
    const len = new Uint32Array(memory.buffer, ptr - 4, 1)[0];
    return Buffer.from(memory.buffer, ptr, Math.min(len, 512)).toString("utf16le");
  } catch {
    return "?";
  }
}

function runOne(input) {
  try {
    const ptr = exports.alloc_input(input.length) >>> 0;
    new Uint8Array(memory.buffer, ptr, input.length).set(input);
    const packed = BigInt.asUintN(64, BigInt(exports.process(ptr, input.length)));
    const outPtr = Number(packed >> 32n);
    const outLen = Number(packed & 0xffffffffn);
    if (outPtr + outLen > memory.buffer.byteLength) throw new Error("service returned an output outside its memory");
    return { ok: true, output: new Uint8Array(memory.buffer.slice(outPtr, outPtr + outLen)) };
  } catch (e) {
    // A failed memory.grow surfaces as a plain trap (allocators call unreachable). Allocators grow
    // geometrically, so the grow that fails is asked for past half the cap: a trap with memory
    // beyond half its cap is reported as exhaustion.
    const exhausted = memory.buffer.byteLength > (maxPages * 65536) / 2;
    const message = e && e.message ? e.message : String(e);
    const error = exhausted ? "memory cap exceeded (" + (maxPages * 64) + " KiB)" : "trap: " + message;
    instantiate(); // a failed instance may be left inconsistent: start from a fresh one
    return { ok: false, error };
  }
}

instantiate();
parentPort.on("message", ({ id, inputs }) => {
  const results = inputs.map(runOne);
  parentPort.postMessage({ id, results }, results.filter((r) => r.ok).map((r) => r.output.buffer));
});
`;
