export * from "./ledger.ts";
export * from "./mediation.ts";
export * from "./strategy.ts";
export * from "./test-plan.ts";
