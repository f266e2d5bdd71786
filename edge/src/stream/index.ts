export * from "./customer-stream.ts";
export * from "./supplier-job.ts";
