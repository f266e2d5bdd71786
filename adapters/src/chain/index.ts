export * from "./market-events.ts";
export * from "./opener.ts";
export * from "./balances.ts";
