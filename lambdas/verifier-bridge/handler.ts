// The verifier-bridge Lambda: invoked on a schedule, runs one bridge pass (bridge.ts). Thin:
// clients and configuration at module scope. Every pass is safe to retry or run concurrently
// (exactly-once event application, compare-and-set cursor), so no idempotency wrapper is needed.
//
// Environment:
//   SURPLUS_CHAIN_RPC_URL, SURPLUS_MARKET_ADDRESS   the chain and the market contract
//   SURPLUS_MARKET_START_BLOCK                      where to start without a stored cursor (default 0)
//   SURPLUS_CONFIRMATIONS                           blocks before an event is final (default 2)
//   SURPLUS_PULSAR_URL                              the broker's web service
//   SURPLUS_PULSAR_TOKEN_SECRET_ARN                 a super-user JWT in Secrets Manager (AWS), or
//   SURPLUS_PULSAR_TOKEN                            the JWT itself (local runs)
//   SURPLUS_ALLOCATIONS_TOPIC                       default: the market's allocations channel
//   SURPLUS_TABLE_PREFIX, SURPLUS_DYNAMODB_ENDPOINT as for the allocator
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { MarketEventReader } from "@surplus/adapters/chain";
import { DynamoBridgeRegistry, dynamoDbClient, tableNames } from "@surplus/adapters/dynamodb";
import { marketChannels, PulsarAdmin, WebSocketMessageBus } from "@surplus/adapters/pulsar";
import { JsonRpcProvider } from "ethers";
import { secretFromEnv } from "../shared/secrets.ts";
import { runBridge } from "./bridge.ts";
import { PulsarAnnouncer, PulsarChannelProvisioner } from "./pulsar.ts";

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`the verifier-bridge needs ${name} to be set`);
  return value;
};

const logger = new Logger({ serviceName: "verifier-bridge" });
const metrics = new Metrics({ namespace: "Surplus", serviceName: "verifier-bridge" });
const pulsarUrl = env("SURPLUS_PULSAR_URL");
const token = await secretFromEnv(process.env, "SURPLUS_PULSAR_TOKEN", "SURPLUS_PULSAR_TOKEN_SECRET_ARN");
const bus = new WebSocketMessageBus({ url: pulsarUrl, ...(token ? { token } : {}) });
const deps = {
  chain: new MarketEventReader(
    new JsonRpcProvider(env("SURPLUS_CHAIN_RPC_URL")),
    env("SURPLUS_MARKET_ADDRESS"),
  ),
  registry: new DynamoBridgeRegistry(dynamoDbClient(), tableNames()),
  announcer: new PulsarAnnouncer(
    bus,
    process.env["SURPLUS_ALLOCATIONS_TOPIC"] ?? marketChannels().allocations,
  ),
  channels: new PulsarChannelProvisioner(new PulsarAdmin({ url: pulsarUrl, ...(token ? { token } : {}) })),
};
const options = {
  startBlock: Number(process.env["SURPLUS_MARKET_START_BLOCK"] ?? 0),
  confirmations: Number(process.env["SURPLUS_CONFIRMATIONS"] ?? 2),
};

export async function handler(event: { readonly id?: string }) {
  const started = Date.now();
  const result = await runBridge(deps, options);
  metrics.addMetric("EventsRead", MetricUnit.Count, result.events);
  metrics.addMetric("EventsApplied", MetricUnit.Count, result.applied);
  metrics.addMetric("EventsDuplicate", MetricUnit.Count, result.duplicates);
  metrics.addMetric("EventsUnknownAllocation", MetricUnit.Count, result.unknown);
  metrics.addMetric("PassDuration", MetricUnit.Milliseconds, Date.now() - started);
  metrics.publishStoredMetrics();
  logger.info("bridge pass done", { eventId: event.id, ...result });
  return result;
}
