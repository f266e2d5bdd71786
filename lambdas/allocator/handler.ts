// The Allocator Lambda: on a schedule (EventBridge, once a minute) it runs, every second of its
// minute under a lease (operator cadence.ts), an offer round then an accept round, as composed by
// @surplus/operator (compose.ts). Its variables are operator/src/config.ts's schema, checked at
// load. Idempotent on the scheduled event's id: a retried invocation returns the first one's report.
import { IdempotencyConfig, makeIdempotent } from "@aws-lambda-powertools/idempotency";
import { DynamoDBPersistenceLayer } from "@aws-lambda-powertools/idempotency/dynamodb";
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { DynamoLease } from "@surplus/adapters";
import { composeAllocator, domainOf, parseConfig, type RemainingTime, runCadence } from "@surplus/operator";
import { allocatorAdapters, tables } from "../shared/adapters.ts";
import { logAcceptRound, logOfferRound, publishAllocatorMetrics } from "../shared/telemetry.ts";

const logger = new Logger({ serviceName: "allocator" });
const metrics = new Metrics({ namespace: "Surplus", serviceName: "allocator" });
const config = parseConfig(process.env, "allocator");
const { dynamo, db, names } = tables(config);
const allocator = composeAllocator(
  {
    domain: domainOf(config),
    bounds: config.bounds,
    signingLeadSeconds: config.signingLeadSeconds,
    ...(config.delays ? { delays: config.delays } : {}),
  },
  await allocatorAdapters(config, process.env),
);
const lease = new DynamoLease(db, names, "allocator");

/** One offer round, then one accept round: what the schedule runs every second. */
async function round() {
  const offers = logOfferRound(logger, await allocator.offerRound(Date.now()));
  return { ...offers, accepts: logAcceptRound(logger, await allocator.acceptRound(Date.now())) };
}

async function allocate(
  event: { readonly id: string; readonly time?: string },
  context?: RemainingTime & { awsRequestId?: string },
) {
  const started = Date.now();
  const run = await runCadence(
    round,
    {
      lease,
      holder: context?.awsRequestId ?? event.id,
      slotStartMs: event.time ? Date.parse(event.time) : started,
      context,
      onError: (err) => logger.error("round failed", err as Error),
    },
    config.cadence,
  );
  const { stopped, waitedMs, failures } = run;
  const sums = publishAllocatorMetrics(metrics, run, Date.now() - started);
  logger.info("invocation done", {
    eventId: event.id,
    rounds: run.rounds.length,
    failures,
    stopped,
    waitedMs,
  });
  return { ...sums, rounds: run.rounds.length, failures, stopped, waitedMs };
}

export const handler = makeIdempotent(allocate, {
  persistenceStore: new DynamoDBPersistenceLayer({ tableName: names.idempotency, awsSdkV3Client: dynamo }),
  config: new IdempotencyConfig({ eventKeyJmesPath: "id" }),
});
