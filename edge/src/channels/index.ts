export * from "./chain.ts";
export * from "./pulsar.ts";
