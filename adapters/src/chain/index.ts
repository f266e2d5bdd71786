export * from "./market-events.ts";
