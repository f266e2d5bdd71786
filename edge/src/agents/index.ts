export * from "./agent.ts";
export * from "./customer.ts";
export * from "./mediator.ts";
export * from "./services.ts";
export * from "./store.ts";
export * from "./supplier.ts";
