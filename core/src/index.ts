// @surplus/core — the protocol, pure: no I/O. Every other package uses these definitions.
export * from "./allocation-state.ts";
export * from "./allocator/index.ts";
export * from "./concurrency.ts";
export * from "./eip712.ts";
export * from "./errors.ts";
export * from "./feasibility.ts";
export * from "./hashing.ts";
export * from "./incentives.ts";
export * from "./ports.ts";
export * from "./pricing.ts";
export * from "./random.ts";
export * from "./reputation.ts";
export * from "./schemas.ts";
export * from "./windows.ts";
