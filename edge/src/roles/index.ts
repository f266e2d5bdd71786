export * from "./customer.ts";
export * from "./mediator.ts";
export * from "./supplier-job.ts";
