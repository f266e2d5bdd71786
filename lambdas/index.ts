// @surplus/lambdas: the AWS side of the operator (the handlers, Secrets Manager, their adapters and
// telemetry). The handlers are separate entries (`@surplus/lambdas/allocator/handler`,
// `@surplus/lambdas/verifier-bridge/handler`): they connect to their services when loaded.
// The use cases live in @surplus/operator and the Pulsar channels in @surplus/adapters/pulsar; both
// are re-exported here only for importers not yet moved to those packages.
export {
  MAX_PAYLOAD_BYTES,
  PulsarAllocationPublisher,
  PulsarAnnouncer,
  PulsarChannelProvisioner,
  PulsarOfferSource,
} from "@surplus/adapters/pulsar";
export * from "@surplus/operator";
export * from "./shared/secrets.ts";
