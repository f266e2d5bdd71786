// The Allocator's auction (paper §2.1, §3.1, §3.3): pure and deterministic.

export * from "./admission.ts";
export * from "./auction/index.ts";
export * from "./capacity.ts";
export * from "./lapse.ts";
export * from "./offer-status.ts";
export * from "./ports.ts";
export * from "./price-rules.ts";
export * from "./reference.ts";
export * from "./standing.ts";
export * from "./types.ts";
export * from "./verify.ts";
