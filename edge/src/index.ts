// @surplus/edge — the runtime on Supplier, Customer and Mediator machines.
export * from "./channels/index.ts";
export * from "./cli/index.ts";
export * from "./ports.ts";
export * from "./roles/index.ts";
export * from "./sandbox/index.ts";
export * from "./sources/frames.ts";
export * from "./verification/index.ts";
