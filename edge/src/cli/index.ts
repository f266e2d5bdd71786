export * from "./config.ts";
export * from "./keystore.ts";
export * from "./main.ts";
export * from "./run.ts";
