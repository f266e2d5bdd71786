export * from "./abi.ts";
export * from "./errors.ts";
export * from "./executor.ts";
export * from "./sandbox.ts";
