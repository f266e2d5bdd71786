export * from "./pulsar.ts";
