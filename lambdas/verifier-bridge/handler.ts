// The verifier-bridge Lambda: invoked on a schedule (once a minute), runs a bridge pass (bridge.ts)
// every second for its minute (shared/cadence.ts, one invocation at a time). Thin: clients and
// configuration at module scope. Every pass is safe to retry or run concurrently (exactly-once
// event application, compare-and-set cursor), so no idempotency wrapper is needed.
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
//   SURPLUS_ROUND_INTERVAL_MS, SURPLUS_SCHEDULE_PERIOD_SECONDS, SURPLUS_STOP_MARGIN_MS  as for the allocator
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { MarketEventReader } from "@surplus/adapters/chain";
import {
  DynamoBridgeRegistry,
  DynamoLease,
  documentClient,
  dynamoDbClient,
  tableNames,
} from "@surplus/adapters/dynamodb";
import { marketChannels, PulsarAdmin, WebSocketMessageBus } from "@surplus/adapters/pulsar";
import { JsonRpcProvider } from "ethers";
import { cadenceFromEnv, type RemainingTime, runCadence, sumReports } from "../shared/cadence.ts";
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
const dynamo = dynamoDbClient();
const bus = new WebSocketMessageBus({ url: pulsarUrl, ...(token ? { token } : {}) });
const deps = {
  chain: new MarketEventReader(
    new JsonRpcProvider(env("SURPLUS_CHAIN_RPC_URL")),
    env("SURPLUS_MARKET_ADDRESS"),
  ),
  registry: new DynamoBridgeRegistry(dynamo, tableNames()),
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

const cadence = cadenceFromEnv();
const lease = new DynamoLease(documentClient(dynamo), tableNames(), "verifier-bridge");

export async function handler(
  event: { readonly id?: string; readonly time?: string },
  context?: RemainingTime & { awsRequestId?: string },
) {
  const started = Date.now();
  const run = await runCadence(
    async () => {
      const pass = await runBridge(deps, options);
      if (pass.events > 0) logger.info("bridge pass done", { ...pass });
      return pass;
    },
    {
      lease,
      holder: context?.awsRequestId ?? event.id ?? `bridge-${started}`,
      slotStartMs: event.time ? Date.parse(event.time) : started,
      context,
      onError: (err) => logger.error("bridge pass failed", err as Error),
    },
    cadence,
  );
  // Counts add up over the passes; the block range is the last pass's.
  const result = sumReports(
    run.rounds.map(({ events, applied, duplicates, unknown }) => ({ events, applied, duplicates, unknown })),
  );
  const toBlock = run.rounds.at(-1)?.toBlock;
  metrics.addMetric("Passes", MetricUnit.Count, run.rounds.length);
  metrics.addMetric("PassFailures", MetricUnit.Count, run.failures);
  metrics.addMetric("EventsRead", MetricUnit.Count, result.events ?? 0);
  metrics.addMetric("EventsApplied", MetricUnit.Count, result.applied ?? 0);
  metrics.addMetric("EventsDuplicate", MetricUnit.Count, result.duplicates ?? 0);
  metrics.addMetric("EventsUnknownAllocation", MetricUnit.Count, result.unknown ?? 0);
  metrics.addMetric("InvocationDuration", MetricUnit.Milliseconds, Date.now() - started);
  metrics.publishStoredMetrics();
  const { stopped, waitedMs, failures } = run;
  logger.info("invocation done", {
    eventId: event.id,
    passes: run.rounds.length,
    failures,
    stopped,
    waitedMs,
  });
  return { ...result, toBlock, passes: run.rounds.length, failures, stopped, waitedMs };
}
