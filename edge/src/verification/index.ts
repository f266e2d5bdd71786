export * from "./ledger.ts";
export * from "./strategy.ts";
export * from "./test-plan.ts";
