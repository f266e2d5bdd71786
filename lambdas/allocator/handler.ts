// The Allocator Lambda: invoked on a schedule (EventBridge), runs one round. Thin: clients and
// configuration at module scope, the use case in round.ts. Idempotent on the scheduled event's
// id, so a retried invocation returns the first one's report instead of running again (and the
// round itself is safe to repeat anyway: see round.ts).
//
// Environment:
//   SURPLUS_CHAIN_ID, SURPLUS_MARKET_ADDRESS   the EIP-712 domain (market contract)
//   SURPLUS_SIGNER_SECRET_ARN                   the Allocator's private key in Secrets Manager (AWS), or
//   SURPLUS_ALLOCATOR_KEY                       the key itself (local runs)
//   SURPLUS_PENALTY_RATE                        ρ (default 1000)
//   SURPLUS_PULSAR_URL                          the broker's web service
//   SURPLUS_PULSAR_TOKEN_SECRET_ARN             the Allocator's JWT in Secrets Manager (AWS), or
//   SURPLUS_PULSAR_TOKEN                        the JWT itself (local runs)
//   SURPLUS_OFFERS_TOPIC, SURPLUS_ALLOCATIONS_TOPIC   default: the market channels (adapters marketChannels())
//   SURPLUS_TABLE_PREFIX                        DynamoDB table-name prefix (default "surplus-")
//   SURPLUS_DYNAMODB_ENDPOINT                   DynamoDB Local; unset in AWS
import { IdempotencyConfig, makeIdempotent } from "@aws-lambda-powertools/idempotency";
import { DynamoDBPersistenceLayer } from "@aws-lambda-powertools/idempotency/dynamodb";
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import {
  DynamoAllocatorRegistry,
  documentClient,
  dynamoDbClient,
  marketChannels,
  tableNames,
  WebSocketMessageBus,
} from "@surplus/adapters";
import type { Address, MarketDomain } from "@surplus/core";
import { Wallet } from "ethers";
import { secretFromEnv } from "../shared/secrets.ts";
import { PulsarAllocationPublisher, PulsarOfferSource } from "./pulsar.ts";
import { runAllocatorRound } from "./round.ts";

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`the allocator needs ${name} to be set`);
  return value;
};

const logger = new Logger({ serviceName: "allocator" });
const metrics = new Metrics({ namespace: "Surplus", serviceName: "allocator" });
const names = tableNames();
const dynamo = dynamoDbClient();
const registry = new DynamoAllocatorRegistry(documentClient(dynamo), names);
const domain: MarketDomain = {
  chainId: BigInt(env("SURPLUS_CHAIN_ID")),
  verifyingContract: env("SURPLUS_MARKET_ADDRESS") as Address,
};
const key = await secretFromEnv(process.env, "SURPLUS_ALLOCATOR_KEY", "SURPLUS_SIGNER_SECRET_ARN");
if (!key) throw new Error("the allocator needs SURPLUS_SIGNER_SECRET_ARN (or SURPLUS_ALLOCATOR_KEY locally)");
// The generated secret is bare hex; ethers wants the 0x prefix.
const signer = new Wallet(key.startsWith("0x") ? key : `0x${key}`);
const pulsarToken = await secretFromEnv(
  process.env,
  "SURPLUS_PULSAR_TOKEN",
  "SURPLUS_PULSAR_TOKEN_SECRET_ARN",
);
const bus = new WebSocketMessageBus({
  url: env("SURPLUS_PULSAR_URL"),
  ...(pulsarToken ? { token: pulsarToken } : {}),
});
const channels = marketChannels();
const source = new PulsarOfferSource(bus, process.env["SURPLUS_OFFERS_TOPIC"] ?? channels.offers);
const publisher = new PulsarAllocationPublisher(
  bus,
  process.env["SURPLUS_ALLOCATIONS_TOPIC"] ?? channels.allocations,
  signer,
  domain,
);
const config = {
  domain,
  allocator: signer.address as Address,
  penaltyRate: BigInt(process.env["SURPLUS_PENALTY_RATE"] ?? "1000"),
};

/** The scheduled event: only its id matters (the idempotency key). */
interface ScheduledEvent {
  readonly id: string;
  readonly time?: string;
}

async function allocate(event: ScheduledEvent) {
  const started = Date.now();
  const report = await runAllocatorRound({ source, registry, publisher }, config, started);
  metrics.addMetric("OffersRead", MetricUnit.Count, report.read);
  metrics.addMetric("OffersRejected", MetricUnit.Count, report.rejected.length);
  metrics.addMetric("Allocations", MetricUnit.Count, report.allocations);
  metrics.addMetric("VoidAllocations", MetricUnit.Count, report.voids);
  metrics.addMetric("CommitConflicts", MetricUnit.Count, report.conflicts);
  metrics.addMetric("RoundDuration", MetricUnit.Milliseconds, Date.now() - started);
  metrics.publishStoredMetrics();
  for (const r of report.rejected) logger.warn("offer rejected", { position: r.position, error: r.error });
  logger.info("round done", { eventId: event.id, ...report, rejected: report.rejected.length });
  return { ...report, rejected: report.rejected.length };
}

export const handler = makeIdempotent(allocate, {
  persistenceStore: new DynamoDBPersistenceLayer({ tableName: names.idempotency, awsSdkV3Client: dynamo }),
  config: new IdempotencyConfig({ eventKeyJmesPath: "id" }),
});
