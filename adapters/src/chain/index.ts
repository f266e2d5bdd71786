export * from "./balances.ts";
export * from "./market-events.ts";
export * from "./opener.ts";
