// DynamoDB registries of the Allocator (tables, put-if-absent offers, conditional allocation
// commits, outbox, cursors).
export * from "./bridge-registry.ts";
export * from "./registry.ts";
export * from "./tables.ts";
