// @surplus/operator: the operator's use cases (the Allocator's offer and accept rounds, admission,
// the front door, the verifier-bridge), their ports, the configuration schema, the cloud cadence,
// and the composition the Lambda handlers and the local market share.
export * from "./allocator/accept-round.ts";
export * from "./allocator/admission.ts";
export * from "./allocator/front-door.ts";
export * from "./allocator/offer-round.ts";
export * from "./cadence.ts";
export * from "./compose.ts";
export * from "./config.ts";
export * from "./ports.ts";
export * from "./verifier-bridge/bridge.ts";
