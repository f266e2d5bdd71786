export * from "./chain/index.ts";
export * from "./dynamodb/index.ts";
export * from "./pulsar/index.ts";
