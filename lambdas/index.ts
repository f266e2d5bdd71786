// @surplus/lambdas: the operator's use cases (the Allocator's offer and accept rounds, admission,
// the front door, the verifier-bridge), their Pulsar adapters and the cloud cadence, for the local
// market and the benches. The Lambda handlers are separate entries (`@surplus/lambdas/allocator/handler`,
// `@surplus/lambdas/verifier-bridge/handler`): they connect to their services when loaded.
export * from "./allocator/accepts.ts";
export * from "./allocator/admission.ts";
export * from "./allocator/front-door.ts";
export * from "./allocator/pulsar.ts";
export * from "./allocator/round.ts";
export * from "./shared/cadence.ts";
export * from "./shared/secrets.ts";
export * from "./verifier-bridge/bridge.ts";
export * from "./verifier-bridge/pulsar.ts";
