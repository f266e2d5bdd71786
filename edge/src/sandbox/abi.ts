// The service ABI (see edge/services/README.md) and the checks a module must pass before it runs.
//
// A service is a WebAssembly module that
//   - imports its memory as `env.memory` (so the host sets the cap) and may import `env.abort`
//     (AssemblyScript's failure hook) — and nothing else: no clock, randomness, files or network,
//     so it is deterministic and cannot reach outside the sandbox;
//   - exports `alloc_input(len: i32) -> i32`, which returns where the host writes the input (and
//     resets the module's heap, so no state carries from one input to the next), and
//   - exports `process(ptr: i32, len: i32) -> i64`, returning (outPtr << 32) | outLen.

import type { Bytes32 } from "@surplus/core";
import { hashBytes } from "@surplus/core";
import { ServiceRejectedError } from "./errors.ts";

export const ALLOWED_IMPORTS = new Set(["env.memory", "env.abort"]);
export const REQUIRED_EXPORTS = ["alloc_input", "process"] as const;

/** keccak256 of the module's bytes: the id an allocation names on-chain. */
export function serviceHash(wasm: Uint8Array): Bytes32 {
  return hashBytes(wasm);
}

/** Compiles a module and checks it against the ABI; throws ServiceRejectedError naming the problem. */
export function compileService(wasm: Uint8Array, expectedHash?: Bytes32): WebAssembly.Module {
  const hash = serviceHash(wasm);
  if (expectedHash !== undefined && hash !== expectedHash.toLowerCase()) {
    throw new ServiceRejectedError(`service hash ${hash} differs from the allocation's ${expectedHash}`, {
      hash,
      expectedHash,
    });
  }
  let module: WebAssembly.Module;
  try {
    module = new WebAssembly.Module(wasm);
  } catch (cause) {
    throw new ServiceRejectedError(
      `not a valid WebAssembly module: ${(cause as Error).message}`,
      { hash },
      { cause },
    );
  }
  const imports = WebAssembly.Module.imports(module).map((i) => `${i.module}.${i.name}`);
  const forbidden = imports.filter((i) => !ALLOWED_IMPORTS.has(i));
  if (forbidden.length > 0) {
    throw new ServiceRejectedError(
      `service imports ${forbidden.join(", ")}, which the sandbox does not provide (only env.memory and env.abort)`,
      { hash, forbidden },
    );
  }
  if (!imports.includes("env.memory")) {
    throw new ServiceRejectedError("service must import its memory as env.memory (so the host can cap it)", {
      hash,
    });
  }
  const exports = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
  const missing = REQUIRED_EXPORTS.filter((e) => !exports.has(e));
  if (missing.length > 0)
    throw new ServiceRejectedError(`service does not export ${missing.join(", ")}`, { hash, missing });
  return module;
}
