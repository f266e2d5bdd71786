// @surplus/lambdas: the AWS side of the operator (the handlers, Secrets Manager, their adapters and
// telemetry). The handlers are separate entries (`@surplus/lambdas/allocator/handler`,
// `@surplus/lambdas/verifier-bridge/handler`): they connect to their services when loaded.
// The use cases live in @surplus/operator, the Pulsar channels in @surplus/adapters/pulsar.
export * from "./shared/secrets.ts";
