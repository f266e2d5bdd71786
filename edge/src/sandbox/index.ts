export * from "./abi.ts";
export * from "./errors.ts";
export * from "./sandbox.ts";
