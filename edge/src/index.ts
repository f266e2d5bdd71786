// @surplus/edge — the runtime on Supplier, Customer and Mediator machines.
export * from "./sandbox/index.ts";
