// @surplus/core — the protocol, pure: no I/O. Every other package uses these definitions.
export * from "./eip712.ts";
export * from "./errors.ts";
export * from "./hashing.ts";
export * from "./schemas.ts";
