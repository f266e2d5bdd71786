// DynamoDB registries of the Allocator (tables, put-if-absent offers, conditional allocation
// commits, outbox, cursors, accepts and the open submission).
export * from "./accept-registry.ts";
export * from "./bridge-registry.ts";
export * from "./lease.ts";
export * from "./market-view.ts";
export * from "./registry.ts";
export * from "./standing.ts";
export * from "./tables.ts";
