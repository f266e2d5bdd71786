// @surplus/edge — the runtime on Supplier, Customer and Mediator machines.

export * from "./agents/index.ts";
export * from "./channels/index.ts";
export * from "./cli/index.ts";
export * from "./ports.ts";
export * from "./sandbox/index.ts";
export * from "./sources/index.ts";
export * from "./stream/index.ts";
export * from "./verification/index.ts";
